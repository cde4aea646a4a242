//! A lint rule's catalogue entry, and the constructor that ties every
//! finding to its rule (so ids and severities cannot drift apart).
use crate::report::{Finding, Location, RuleId, Severity};

/// What a rule judges, which says when in the inspection it can fire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// A request alone ([`crate::lint::check`]).
    Request,
    /// The status and headers of a response, before its body
    /// (the proxy can still fix them).
    ResponseHead,
    /// A finished exchange with its response body.
    Response,
    /// A request given the exchanges before it ([`crate::session`]).
    Session,
    /// trakt-doctor's own failure, not the exchange's.
    Internal,
}

/// One rule of the catalogue: what it checks, why Trakt cares, and how it is fixed.
#[derive(Debug)]
pub struct Rule {
    /// Stable id, `family.subject.problem`.
    pub id: &'static str,
    /// How sure the rule is that the request will be rejected.
    pub severity: Severity,
    /// What the rule looks at, and so when it can fire.
    pub scope: Scope,
    /// One line: what the rule checks.
    pub summary: &'static str,
    /// Why Trakt (or Stremio's bridge) cares, with the status it causes.
    pub why: &'static str,
    /// A request that breaks the rule.
    pub bad: &'static str,
    /// The same request done right.
    pub good: &'static str,
    /// What auto-fix does, or `None` when the intended request is not certain.
    pub autofix: Option<&'static str>,
    /// Where the rule's certainty comes from: one or more citations joined
    /// by `; `, each starting with its kind's label (see [`SourceKind`]),
    /// e.g. `Trakt docs: guides/status-codes.md (412)`.
    pub source: &'static str,
}

/// The kind of one citation in a rule's [`Rule::source`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceKind {
    /// Trakt's contract: trakt/trakt-api `projects/api/src/contracts/`
    /// at the snapshot commit trakt-doctor embeds.
    Contract,
    /// Trakt's documentation: the developer guides (trakt/trakt-api
    /// `projects/developer/src/lib/guides/`) or the Apiary blueprint.
    Docs,
    /// A Trakt or Stremio maintainer's statement, by issue or pull request.
    Maintainer,
    /// An answer seen from Trakt or Stremio, as reported in public issues.
    Observed,
    /// Stremio's own code (Stremio/stremio-core, stremio-web).
    Stremio,
    /// trakt-doctor's own reading: no Trakt or Stremio source says so.
    OwnReading,
    /// trakt-doctor describing itself (its limits, its decoders, its bugs).
    Itself,
}

impl SourceKind {
    /// Every kind, in the order the catalogue explains them.
    pub const ALL: [SourceKind; 7] = [
        SourceKind::Contract,
        SourceKind::Docs,
        SourceKind::Maintainer,
        SourceKind::Observed,
        SourceKind::Stremio,
        SourceKind::OwnReading,
        SourceKind::Itself,
    ];

    /// A stable name for tools (the JSON catalogue).
    pub fn id(self) -> &'static str {
        match self {
            SourceKind::Contract => "contract",
            SourceKind::Docs => "docs",
            SourceKind::Maintainer => "maintainer",
            SourceKind::Observed => "observed",
            SourceKind::Stremio => "stremio",
            SourceKind::OwnReading => "own-reading",
            SourceKind::Itself => "itself",
        }
    }

    /// The label a citation of this kind starts with (before `: `).
    pub fn label(self) -> &'static str {
        match self {
            SourceKind::Contract => "Trakt contract",
            SourceKind::Docs => "Trakt docs",
            SourceKind::Maintainer => "Maintainer",
            SourceKind::Observed => "Observed",
            SourceKind::Stremio => "Stremio source",
            SourceKind::OwnReading => "trakt-doctor's own reading",
            SourceKind::Itself => "trakt-doctor itself",
        }
    }

    /// What the kind means, for the catalogue's preamble.
    pub fn meaning(self) -> &'static str {
        match self {
            SourceKind::Contract => "the ts-rest contract in trakt/trakt-api `projects/api/src/contracts/` (written `contracts/...`) at the snapshot commit named above; an operation is cited by its method and path",
            SourceKind::Docs => "the developer guides in trakt/trakt-api `projects/developer/src/lib/guides/` (written `guides/...`, the source of developer.trakt.tv), or the older Apiary blueprint (trakt.docs.apiary.io)",
            SourceKind::Maintainer => "a Trakt or Stremio maintainer's statement, by issue or pull request",
            SourceKind::Observed => "answers seen from Trakt or Stremio, as reported in public issues and pull requests",
            SourceKind::Stremio => "Stremio's own code (Stremio/stremio-core, stremio-core-web, stremio-web)",
            SourceKind::OwnReading => "trakt-doctor's inference, often from a general standard (an RFC), with no Trakt or Stremio source behind it; never enough for `error`",
            SourceKind::Itself => "the rule reports a limit or failure of trakt-doctor itself, not a claim about Trakt",
        }
    }

    /// Whether a citation of this kind is evidence of how Trakt or Stremio
    /// behave (and so can carry an `error`).
    pub(crate) fn is_external(self) -> bool {
        !matches!(self, SourceKind::OwnReading | SourceKind::Itself)
    }

    fn of(citation: &str) -> Option<SourceKind> {
        SourceKind::ALL.into_iter().find(|kind| {
            citation
                .strip_prefix(kind.label())
                .is_some_and(|rest| rest.starts_with(": "))
        })
    }
}

impl Rule {
    /// The citations of [`Rule::source`], each with its kind (`None` for a
    /// citation that starts with no known label).
    pub fn sources(&self) -> impl Iterator<Item = (Option<SourceKind>, &'static str)> {
        self.source
            .split("; ")
            .map(|citation| (SourceKind::of(citation), citation))
    }

    /// The kinds of the rule's citations, each once, in catalogue order.
    pub fn source_kinds(&self) -> Vec<SourceKind> {
        SourceKind::ALL
            .into_iter()
            .filter(|kind| self.sources().any(|(k, _)| k == Some(*kind)))
            .collect()
    }

    /// Whether some citation is evidence from Trakt or Stremio, not only
    /// trakt-doctor's own reading.
    pub(crate) fn has_external_source(&self) -> bool {
        self.sources()
            .any(|(kind, _)| kind.is_some_and(SourceKind::is_external))
    }

    /// A finding of this rule at `location`, saying `message`.
    pub fn finding(
        &'static self,
        location: impl Into<Location>,
        message: impl Into<String>,
    ) -> Finding {
        Finding {
            rule: RuleId::from_static(self.id),
            severity: self.severity,
            message: message.into(),
            location: location.into(),
            fixed: false,
            contradicted: false,
            fix: None,
        }
    }
}

impl Finding {
    /// Whether this finding was made by `rule`.
    pub fn is(&self, rule: &Rule) -> bool {
        self.rule.as_str() == rule.id
    }
}
