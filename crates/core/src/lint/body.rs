//! Body rules: JSON well-formedness, then the shape each endpoint expects
//! (scrobble, checkin, bulk sync items, ratings), ids, numbers and dates.

use serde_json::{Map, Value};
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime, UtcOffset};

use super::route::is_imdb_id;
use super::{Finding, ParsedBody, Rule, Scope, Severity, Subject};
use crate::report::Fix;
use crate::spec::schema::json_kind;
use crate::spec::trakt::BodyShape;
use crate::text::edit_distance;

pub(crate) const JSON_INVALID: Rule = Rule {
    id: "body.json.invalid",
    severity: Severity::Error,
    scope: Scope::Request,
    summary: "The body is not valid JSON.",
    why: "Trakt answers 400 (request couldn't be parsed) to a body it cannot parse: a trailing comma, single quotes, an unquoted key, a truncated string.",
    bad: "{\"movie\":{\"ids\":{\"imdb\":\"tt2015381\"}},\"progress\":10,}",
    good: "{\"movie\":{\"ids\":{\"imdb\":\"tt2015381\"}},\"progress\":10}",
    autofix: None,
    source: "Trakt docs: guides/required-headers.md (bodies are `application/json`) and guides/status-codes.md (400: request couldn't be parsed)",
};

pub(crate) const JSON_BOM: Rule = Rule {
    id: "body.json.bom",
    severity: Severity::Warning,
    scope: Scope::Request,
    summary: "The JSON body starts with a UTF-8 byte order mark.",
    why: "JSON must not start with a BOM; strict parsers, Trakt's included, answer 400. Windows tools often add one when saving UTF-8.",
    bad: "\\xEF\\xBB\\xBF{\"progress\":10}",
    good: "{\"progress\":10}",
    autofix: Some("removes the byte order mark"),
    source: "trakt-doctor's own reading: RFC 8259 §8.1 forbids a byte order mark before JSON text but lets parsers ignore one, and what Trakt does with it is not known",
};

/// A body field of the wrong JSON type.
pub const JSON_TYPE: Rule = Rule {
    id: "body.json.type",
    severity: Severity::Error,
    scope: Scope::Request,
    summary: "The body is valid JSON but not an object.",
    why: "Every Trakt body is an object; an array or a string is rejected with 400 or 422.",
    bad: "[{\"ids\":{\"imdb\":\"tt2015381\"}}]",
    good: "{\"movies\":[{\"ids\":{\"imdb\":\"tt2015381\"}}]}",
    autofix: None,
    source: "Trakt contract: the scrobble, checkin, sync, list item, comment and OAuth bodies are JSON objects",
};

/// A body that was not linted (not UTF-8, undecodable, or past the capture limit).
pub const NOT_LINTED: Rule = Rule {
    id: "body.not-linted",
    severity: Severity::Info,
    scope: Scope::Request,
    summary: "The body was not linted (larger than the capture limit, or not text).",
    why: "trakt-doctor buffers bodies up to --capture-limit for linting and streams larger ones through unchecked.",
    bad: "POST /sync/history with a 5 MiB body",
    good: "smaller batches (Trakt also prefers them), or a larger --capture-limit",
    autofix: None,
    source: "trakt-doctor itself: bodies over --capture-limit, or not text, are forwarded without linting",
};

pub(crate) const ITEM_MISSING: Rule = Rule {
    id: "body.item.missing",
    severity: Severity::Error,
    scope: Scope::Request,
    summary: "A scrobble or checkin names no `movie` or `episode`.",
    why: "Trakt needs to know what is playing; without `movie`, `episode`, or `show` + `episode` it answers 400 or 404.",
    bad: "{\"progress\":10}",
    good: "{\"movie\":{\"ids\":{\"imdb\":\"tt2015381\"}},\"progress\":10}",
    autofix: None,
    source: "Trakt docs: the Apiary scrobble and checkin bodies require a `movie` or an `episode` (or `show` and `episode`); Trakt contract: POST /scrobble/* and POST /checkin carry them, though their schemas do not mark them required",
};

pub(crate) const IDS_MISSING: Rule = Rule {
    id: "body.ids.missing",
    severity: Severity::Error,
    scope: Scope::Request,
    summary: "A media object has no `ids`.",
    why: "Trakt matches items by `ids` (trakt, slug, imdb, tmdb, tvdb); without them it answers 404 or lists the item under `not_found`.",
    bad: "{\"movie\":{\"title\":\"Heat\"},\"progress\":10}",
    good: "{\"movie\":{\"ids\":{\"imdb\":\"tt0113277\"}},\"progress\":10}",
    autofix: None,
    source: "Trakt contract: the media objects of scrobble, checkin and sync bodies require `ids` (sync items may give `title` and `year` instead)",
};

pub(crate) const IDS_EMPTY: Rule = Rule {
    id: "body.ids.empty",
    severity: Severity::Error,
    scope: Scope::Request,
    summary: "`ids` is empty or not an object.",
    why: "An empty `ids` matches nothing: 404, or the item lands in `not_found`.",
    bad: "{\"movie\":{\"ids\":{}}}",
    good: "{\"movie\":{\"ids\":{\"tmdb\":118340}}}",
    autofix: None,
    source: "Trakt contract: `ids` is an object that needs at least one of `trakt`, `slug`, `imdb`, `tmdb`, `tvdb`",
};

pub(crate) const IDS_INVALID: Rule = Rule {
    id: "body.ids.invalid",
    severity: Severity::Error,
    scope: Scope::Request,
    summary: "An id has the wrong form (IMDb without `tt`, a Trakt/TMDB/TVDB id that is not a number).",
    why: "Trakt cannot match it and reports the item under `not_found` (sync) or answers 404 (scrobble).",
    bad: "{\"ids\":{\"imdb\":\"2015381\",\"tmdb\":\"abc\"}}",
    good: "{\"ids\":{\"imdb\":\"tt2015381\",\"tmdb\":118340}}",
    autofix: None,
    source: "Trakt contract: `trakt`, `tmdb` and `tvdb` ids are integers, `imdb` a string; Trakt docs: guides/standard-media-objects.md; trakt-doctor's own reading: an IMDb id is `tt` and digits, as in Trakt's examples",
};

pub(crate) const NUMBER_STRING: Rule = Rule {
    id: "body.number.string",
    severity: Severity::Error,
    scope: Scope::Request,
    summary: "A number is sent as a string (`\"progress\": \"45.5\"`, `\"tmdb\": \"118340\"`).",
    why: "Trakt's schema wants numbers for progress, ratings, season/episode numbers and trakt/tmdb/tvdb ids; strings fail validation (422) or do not match (`not_found`).",
    bad: "{\"movie\":{\"ids\":{\"trakt\":\"28\"}},\"progress\":\"45.5\"}",
    good: "{\"movie\":{\"ids\":{\"trakt\":28}},\"progress\":45.5}",
    autofix: Some("turns the numeric string into the number it spells"),
    source: "Trakt contract: `progress`, ratings, season and episode numbers and `trakt`/`tmdb`/`tvdb` ids are numbers; trakt-doctor's own reading: whether Trakt accepts a numeric string anyway is not known",
};

pub(crate) const PROGRESS_MISSING: Rule = Rule {
    id: "body.progress.missing",
    severity: Severity::Error,
    scope: Scope::Request,
    summary: "A scrobble has no `progress`.",
    why: "`progress` (0 to 100, a percentage) is required on start, pause and stop; without it Trakt answers 400/422.",
    bad: "{\"movie\":{\"ids\":{\"trakt\":28}}}",
    good: "{\"movie\":{\"ids\":{\"trakt\":28}},\"progress\":1.25}",
    autofix: None,
    source: "Trakt contract: the POST /scrobble/start, /pause and /stop bodies require `progress`",
};

pub(crate) const PROGRESS_RANGE: Rule = Rule {
    id: "body.progress.range",
    severity: Severity::Error,
    scope: Scope::Request,
    summary: "`progress` is not a percentage between 0 and 100.",
    why: "Trakt wants a percentage; a fraction (0.45) is read as 0.45 % and a position in seconds is out of range (422).",
    bad: "{\"progress\":5400}",
    good: "{\"progress\":45.0}",
    autofix: None,
    source: "Trakt docs: Apiary scrobble (`progress` is a percentage between 0 and 100); trakt-doctor's own reading: the 422 for a value outside it (the contract sets no bounds)",
};

pub(crate) const PROGRESS_STOP_LOW: Rule = Rule {
    id: "body.progress.stop-low",
    severity: Severity::Warning,
    scope: Scope::Request,
    summary: "`/scrobble/stop` with progress under 1 %.",
    why: "Trakt ignores such a stop and answers 422; between 1 % and 80 % it is saved as a pause, above 80 % it is scrobbled.",
    bad: "POST /scrobble/stop {\"progress\":0.5,...}",
    good: "POST /scrobble/pause, or stop only when progress >= 1",
    autofix: None,
    source: "Trakt contract: contracts/scrobble/index.ts (a stop under 1 % answers 422 and is ignored, 1 % to 79 % is a pause, above 80 % a scrobble)",
};

pub(crate) const DATE_FORMAT: Rule = Rule {
    id: "body.date.format",
    severity: Severity::Error,
    scope: Scope::Request,
    summary: "A date (`watched_at`, `collected_at`, `rated_at`, ...) is not ISO 8601 in UTC.",
    why: "Trakt reads dates as ISO 8601 UTC (`2014-09-01T09:10:11.000Z`); other forms are rejected (400/422) or stored at the wrong time.",
    bad: "{\"watched_at\":\"01/09/2014 09:10\"}",
    good: "{\"watched_at\":\"2014-09-01T09:10:11.000Z\"}",
    autofix: Some("rewrites Unix timestamps and dates with a UTC offset as UTC ISO 8601; dates without a time zone stay findings"),
    source: "Trakt docs: guides/dates.md and Apiary (dates are GMT, ISO 8601 like `2014-09-01T09:10:11.000Z`); trakt-doctor's own reading: that Trakt rejects other forms, a UTC offset among them (the contract types dates as plain text)",
};

pub(crate) const DATE_FUTURE: Rule = Rule {
    id: "body.date.future",
    severity: Severity::Warning,
    scope: Scope::Request,
    summary: "A date lies in the future.",
    why: "A play or rating dated tomorrow is usually a time-zone or milliseconds-vs-seconds mistake; Trakt may reject it or show it at the top of the history.",
    bad: "{\"watched_at\":\"2099-01-01T00:00:00Z\"}",
    good: "{\"watched_at\":\"2024-01-01T20:00:00Z\"}",
    autofix: None,
    source: "trakt-doctor's own reading: a date in the future is a time-zone or seconds-vs-milliseconds slip, and Trakt's answer to it is not documented",
};

pub(crate) const RATING_RANGE: Rule = Rule {
    id: "body.rating.range",
    severity: Severity::Error,
    scope: Scope::Request,
    summary: "A rating is missing or not a whole number from 1 to 10.",
    why: "Trakt ratings are 1–10; 0, 4.5 or a 5-star value out of range fail validation (422).",
    bad: "{\"movies\":[{\"ids\":{\"trakt\":28},\"rating\":11}]}",
    good: "{\"movies\":[{\"ids\":{\"trakt\":28},\"rating\":9}]}",
    autofix: None,
    source: "Trakt contract: POST /sync/ratings items require `rating`, an integer from 1 to 10",
};

pub(crate) const ITEMS_EMPTY: Rule = Rule {
    id: "body.items.empty",
    severity: Severity::Warning,
    scope: Scope::Request,
    summary: "A sync body has no items in `movies`, `shows`, `seasons` or `episodes`.",
    why: "Trakt has nothing to add or remove; it answers 400/422 or a 201 that changes nothing.",
    bad: "{\"movies\":[]}",
    good: "{\"movies\":[{\"ids\":{\"imdb\":\"tt0372784\"}}]}",
    autofix: None,
    source: "trakt-doctor's own reading: nothing to add or remove is a mistake, but the contract requires none of `movies`, `shows`, `seasons`, `episodes` and Trakt's answer to an empty body is not known",
};

pub(crate) const KEY_TYPO: Rule = Rule {
    id: "body.key.typo",
    severity: Severity::Warning,
    scope: Scope::Request,
    summary: "An unknown key that looks like a misspelt known one.",
    why: "Trakt ignores unknown keys, so `progres` or `watchedAt` silently drop the value (and a required one then counts as missing).",
    bad: "{\"movie\":{...},\"progres\":10}",
    good: "{\"movie\":{...},\"progress\":10}",
    autofix: None,
    source: "Trakt contract: the keys each body schema names; trakt-doctor's own reading: Trakt drops keys it does not know rather than rejecting them",
};

/// The body rules, in catalogue order.
pub const RULES: &[&Rule] = &[
    &JSON_INVALID,
    &JSON_BOM,
    &JSON_TYPE,
    &NOT_LINTED,
    &ITEM_MISSING,
    &IDS_MISSING,
    &IDS_EMPTY,
    &IDS_INVALID,
    &NUMBER_STRING,
    &PROGRESS_MISSING,
    &PROGRESS_RANGE,
    &PROGRESS_STOP_LOW,
    &DATE_FORMAT,
    &DATE_FUTURE,
    &RATING_RANGE,
    &ITEMS_EMPTY,
    &KEY_TYPO,
];

const SCROBBLE_KEYS: &[&str] = &[
    "movie",
    "episode",
    "show",
    "progress",
    "app_version",
    "app_date",
];
const CHECKIN_KEYS: &[&str] = &[
    "movie",
    "episode",
    "show",
    "sharing",
    "message",
    "app_version",
    "app_date",
    "venue_id",
    "venue_name",
];
const ITEMS_KEYS: &[&str] = &[
    "movies", "shows", "seasons", "episodes", "people", "users", "ids",
];
const ITEM_KEYS: &[&str] = &[
    "ids",
    "title",
    "year",
    "watched_at",
    "collected_at",
    "rated_at",
    "listed_at",
    "rating",
    "seasons",
    "episodes",
    "number",
    "notes",
    "media_type",
    "resolution",
    "hdr",
    "audio",
    "audio_channels",
    "3d",
    "season",
];
const DATE_KEYS: &[&str] = &[
    "watched_at",
    "collected_at",
    "rated_at",
    "listed_at",
    "paused_at",
];
const NUMERIC_IDS: &[&str] = &["trakt", "tmdb", "tvdb"];

/// JSON pointer of `key` under `base`.
fn pointer(base: &str, key: &str) -> String {
    if key.contains(['~', '/']) {
        format!("{base}/{}", key.replace('~', "~0").replace('/', "~1"))
    } else {
        format!("{base}/{key}")
    }
}

/// The hand-written body rules for a request to Trakt's API.
pub fn check(s: &Subject, out: &mut Vec<Finding>) {
    if s.has_bom {
        out.push(
            JSON_BOM
                .finding(
                    "/",
                    "the body starts with a UTF-8 byte order mark (EF BB BF)",
                )
                .with_fix(Fix::StripBom),
        );
    }
    let value = match &s.body {
        ParsedBody::Empty => return,
        ParsedBody::Unlinted(why) => {
            out.push(NOT_LINTED.finding("/", format!("the body was not linted: {why}")));
            return;
        }
        // oauth.body.form says what Trakt wants instead, and can fix it.
        ParsedBody::Invalid(_) if super::oauth::form_fields(s).is_some() => return,
        ParsedBody::Invalid(message) => {
            let content_type = s.headers().get("content-type").unwrap_or_default();
            let form = content_type.contains("x-www-form-urlencoded")
                || (!s.request.body.bytes.starts_with(b"{")
                    && s.request.body.bytes.contains(&b'='));
            let hint = if form {
                " (it looks form-encoded; Trakt wants JSON)"
            } else {
                ""
            };
            out.push(JSON_INVALID.finding("/", format!("the body is not JSON: {message}{hint}")));
            return;
        }
        ParsedBody::Json(value) => value,
    };
    let Some(endpoint) = s.endpoint() else { return };
    // Other bodies are checked against their schema alone (lint::schema),
    // which knows whether an object, a list or nothing is expected.
    if matches!(endpoint.body, BodyShape::None | BodyShape::Object) {
        return;
    }
    let Some(object) = value.as_object() else {
        out.push(JSON_TYPE.finding(
            "/",
            format!("the body is a JSON {}, not an object", json_kind(value)),
        ));
        return;
    };
    let mut ctx = Ctx { out, at: s.at };
    match endpoint.body {
        BodyShape::Scrobble => {
            ctx.typos(object, "", SCROBBLE_KEYS);
            ctx.media_item(object);
            ctx.progress(object, endpoint.path == "/scrobble/stop");
        }
        BodyShape::Checkin => {
            ctx.typos(object, "", CHECKIN_KEYS);
            ctx.media_item(object);
        }
        BodyShape::Comment => {
            for key in ["movie", "show", "season", "episode", "list"] {
                if let Some(item) = object.get(key).filter(|v| !v.is_null()) {
                    ctx.ids_of(item, &format!("/{key}"));
                }
            }
        }
        BodyShape::Items => ctx.items(object, false),
        BodyShape::Ratings => ctx.items(object, true),
        BodyShape::HistoryRemove => {
            // History entries can also be removed by their own ids.
            if !has_history_ids(object) {
                ctx.items(object, false);
            }
        }
        // The OAuth bodies are lint::oauth's; the others were turned away above.
        BodyShape::OAuthToken
        | BodyShape::OAuthRevoke
        | BodyShape::DeviceCode
        | BodyShape::DeviceToken
        | BodyShape::None
        | BodyShape::Object => {}
    }
}

fn has_history_ids(object: &Map<String, Value>) -> bool {
    object
        .get("ids")
        .and_then(Value::as_array)
        .is_some_and(|ids| !ids.is_empty())
}

struct Ctx<'o> {
    out: &'o mut Vec<Finding>,
    at: OffsetDateTime,
}

impl Ctx<'_> {
    fn typos(&mut self, object: &Map<String, Value>, base: &str, known: &[&str]) {
        for key in object.keys() {
            if known.contains(&key.as_str()) {
                continue;
            }
            let normalised = snake_case(key);
            let close = known.iter().find(|k| {
                **k == normalised
                    || (key.len() > 3 && edit_distance(&key.to_ascii_lowercase(), k) <= 2)
            });
            if let Some(close) = close {
                self.out.push(KEY_TYPO.finding(
                    pointer(base, key),
                    format!(
                        "unknown key `{key}`: did you mean `{close}`? Trakt ignores unknown keys"
                    ),
                ));
            }
        }
    }

    /// `movie`, or `episode` (with ids, or `show` + season/number).
    fn media_item(&mut self, object: &Map<String, Value>) {
        match (
            object.get("movie"),
            object.get("episode"),
            object.get("show"),
        ) {
            (Some(movie), _, _) => self.ids_of(movie, "/movie"),
            (None, Some(episode), show) => {
                // Absolute numbering (anime) names an episode by `number_abs` alone.
                let numbered = (episode.get("season").is_some() && episode.get("number").is_some())
                    || episode.get("number_abs").is_some();
                match show {
                    Some(show) if numbered => {
                        self.ids_of(show, "/show");
                        self.whole_number(episode.get("season"), "/episode/season");
                        self.whole_number(episode.get("number"), "/episode/number");
                        self.whole_number(episode.get("number_abs"), "/episode/number_abs");
                    }
                    Some(_) => self.out.push(ITEM_MISSING.finding(
                        "/episode",
                        "with `show`, the episode needs `season` and `number` (or `number_abs`)",
                    )),
                    // A title finds a movie (with its year), never an episode
                    // on its own: only its ids do.
                    None if episode.get("ids").is_none() && episode.is_object() => {
                        self.out.push(IDS_MISSING.finding(
                            "/episode",
                            "an episode without `show` is matched by its `ids` only (a title cannot identify it): add `ids`, or `show` with the episode's `season` and `number`",
                        ))
                    }
                    None => self.ids_of(episode, "/episode"),
                }
            }
            (None, None, Some(_)) => self.out.push(ITEM_MISSING.finding(
                "/episode",
                "`show` alone is not enough: add `episode` with `season` and `number`",
            )),
            (None, None, None) => self
                .out
                .push(ITEM_MISSING.finding("/", "the body names no `movie` or `episode`")),
        }
    }

    fn progress(&mut self, object: &Map<String, Value>, is_stop: bool) {
        let value = match object.get("progress") {
            None | Some(Value::Null) => {
                self.out
                    .push(PROGRESS_MISSING.finding("/progress", "`progress` (0–100) is missing"));
                return;
            }
            Some(v) => v,
        };
        let number = match value {
            Value::Number(n) => n.as_f64(),
            Value::String(text) => match text.trim().parse::<f64>() {
                Ok(n) if n.is_finite() => {
                    self.number_string("/progress", text, n);
                    Some(n)
                }
                _ => None,
            },
            _ => None,
        };
        match number {
            None => self.out.push(
                PROGRESS_RANGE.finding("/progress", format!("`progress` is {value}, not a number")),
            ),
            Some(p) if !(0.0..=100.0).contains(&p) => self.out.push(PROGRESS_RANGE.finding(
                "/progress",
                format!("`progress` is {p}; it is a percentage from 0 to 100"),
            )),
            Some(p) if is_stop && p < 1.0 => self.out.push(PROGRESS_STOP_LOW.finding(
                "/progress",
                format!("stop at {p} % is under 1 %: Trakt answers 422 and ignores it"),
            )),
            _ => {}
        }
    }

    fn number_string(&mut self, at: &str, text: &str, number: f64) {
        let value = if number.fract() == 0.0 && number.abs() < 1e15 {
            Value::from(number as i64)
        } else {
            Value::from(number)
        };
        self.out.push(
            NUMBER_STRING
                .finding(
                    at,
                    format!("`{text}` is a string; Trakt wants the number {value}"),
                )
                .with_fix(Fix::SetJson {
                    pointer: at.to_string(),
                    value,
                }),
        );
    }

    fn whole_number(&mut self, value: Option<&Value>, at: &str) {
        if let Some(Value::String(text)) = value {
            if let Ok(n) = text.trim().parse::<u64>() {
                self.number_string(at, text, n as f64);
            }
        }
    }

    /// Checks the `ids` of a media object at `at`.
    fn ids_of(&mut self, media: &Value, at: &str) {
        let Some(media) = media.as_object() else {
            self.out
                .push(IDS_MISSING.finding(at, format!("`{at}` is not an object with `ids`")));
            return;
        };
        match media.get("ids") {
            None => {
                if media.get("title").is_none() {
                    self.out
                        .push(IDS_MISSING.finding(at, "no `ids` to match the item by"));
                }
            }
            Some(Value::Object(ids)) if !ids.is_empty() => self.ids(ids, &pointer(at, "ids")),
            Some(_) => self
                .out
                .push(IDS_EMPTY.finding(pointer(at, "ids"), "`ids` is empty or not an object")),
        }
    }

    fn ids(&mut self, ids: &Map<String, Value>, at: &str) {
        let mut usable = false;
        for (key, value) in ids {
            // Built only for a finding: most ids are fine.
            let here = || pointer(at, key);
            match (key.as_str(), value) {
                ("imdb", Value::String(id)) if is_imdb_id(id) => usable = true,
                ("imdb", _) => self.out.push(IDS_INVALID.finding(
                    here(),
                    format!("imdb id {value} is not `tt` followed by digits"),
                )),
                (k, Value::Number(_)) if NUMERIC_IDS.contains(&k) => usable = true,
                (k, Value::String(text)) if NUMERIC_IDS.contains(&k) => {
                    match text.trim().parse::<u64>() {
                        Ok(n) => {
                            usable = true;
                            self.number_string(&here(), text, n as f64)
                        }
                        Err(_) => self.out.push(
                            IDS_INVALID.finding(here(), format!("{k} id `{text}` is not a number")),
                        ),
                    }
                }
                (k, Value::Null) if NUMERIC_IDS.contains(&k) || k == "slug" => {}
                ("slug", Value::String(_)) => usable = true,
                _ => {}
            }
        }
        if !usable && !ids.is_empty() && !self.out.iter().any(|f| f.location.starts_with(at)) {
            self.out.push(IDS_EMPTY.finding(
                at,
                "`ids` holds no usable id (trakt, slug, imdb, tmdb, tvdb)",
            ));
        }
    }

    fn items(&mut self, object: &Map<String, Value>, ratings: bool) {
        self.typos(object, "", ITEMS_KEYS);
        let mut count: usize = 0;
        for list in ["movies", "shows", "seasons", "episodes", "people"] {
            let Some(value) = object.get(list) else {
                continue;
            };
            let Some(items) = value.as_array() else {
                self.out.push(
                    JSON_TYPE.finding(format!("/{list}"), format!("`{list}` must be an array")),
                );
                continue;
            };
            count = count.saturating_add(items.len());
            for (i, item) in items.iter().enumerate() {
                let at = format!("/{list}/{i}");
                self.ids_of(item, &at);
                if let Some(item) = item.as_object() {
                    self.item_fields(item, &at, ratings, list == "shows" || list == "seasons");
                }
            }
        }
        if count == 0 {
            self.out.push(ITEMS_EMPTY.finding(
                "/",
                "no items in `movies`, `shows`, `seasons` or `episodes`",
            ));
        }
    }

    /// Dates, ratings and nested seasons/episodes of one bulk item.
    fn item_fields(&mut self, item: &Map<String, Value>, at: &str, ratings: bool, may_nest: bool) {
        self.typos(item, at, ITEM_KEYS);
        for key in DATE_KEYS {
            if let Some(value) = item.get(*key) {
                self.date(value, &pointer(at, key), *key == "watched_at");
            }
        }
        let nested = may_nest && (item.contains_key("seasons") || item.contains_key("episodes"));
        match item.get("rating") {
            Some(value) => self.rating(value, &pointer(at, "rating")),
            None if ratings && !nested => self.out.push(
                RATING_RANGE.finding(pointer(at, "rating"), "the item has no `rating` (1–10)"),
            ),
            None => {}
        }
        for child in ["seasons", "episodes"] {
            if let Some(Value::Array(children)) = item.get(child) {
                for (i, nested_item) in children.iter().enumerate() {
                    let here = format!("{}/{i}", pointer(at, child));
                    if let Some(obj) = nested_item.as_object() {
                        self.whole_number(obj.get("number"), &pointer(&here, "number"));
                        self.item_fields(obj, &here, false, true);
                    }
                }
            }
        }
    }

    fn rating(&mut self, value: &Value, at: &str) {
        let n = match value {
            Value::Number(n) => n.as_f64(),
            Value::String(text) => match text.trim().parse::<u64>() {
                Ok(n) => {
                    self.number_string(at, text, n as f64);
                    Some(n as f64)
                }
                Err(_) => None,
            },
            _ => None,
        };
        match n {
            Some(n) if n.fract() == 0.0 && (1.0..=10.0).contains(&n) => {}
            _ => self.out.push(RATING_RANGE.finding(
                at,
                format!("rating {value} is not a whole number from 1 to 10"),
            )),
        }
    }

    fn date(&mut self, value: &Value, at: &str, is_watched_at: bool) {
        let parsed = match value {
            Value::String(text) if is_watched_at && (text == "released" || text == "unknown") => {
                return
            }
            Value::String(text) => {
                match OffsetDateTime::parse(text, &Rfc3339) {
                    Ok(date) if date.offset() == UtcOffset::UTC => Some(date),
                    Ok(date) => {
                        let utc = date.to_offset(UtcOffset::UTC);
                        self.date_finding(
                            at,
                            format!("`{text}` has a UTC offset; Trakt wants UTC (`Z`)"),
                            Some(utc),
                        );
                        Some(utc)
                    }
                    Err(_) => {
                        self.date_finding(at, format!("`{text}` is not an ISO 8601 UTC date like 2014-09-01T09:10:11.000Z"), None);
                        None
                    }
                }
            }
            Value::Number(n) => {
                let date = n.as_i64().and_then(unix_to_date);
                self.date_finding(
                    at,
                    format!("{n} is a Unix timestamp; Trakt wants an ISO 8601 UTC string"),
                    date,
                );
                date
            }
            other => {
                self.date_finding(at, format!("{other} is not a date"), None);
                None
            }
        };
        if let Some(date) = parsed {
            // At the end of the calendar nothing is later than "now".
            let grace = self.at.checked_add(Duration::minutes(5));
            if grace.is_some_and(|limit| date > limit) {
                self.out.push(DATE_FUTURE.finding(
                    at,
                    format!("in the future: {}", crate::text::when(date, self.at)),
                ));
            }
        }
    }

    fn date_finding(&mut self, at: &str, message: String, fixed: Option<OffsetDateTime>) {
        let finding = DATE_FORMAT.finding(at, message);
        self.out.push(match fixed {
            Some(date) => finding.with_fix(Fix::SetJson {
                pointer: at.to_string(),
                value: Value::String(format_date(date)),
            }),
            None => finding,
        });
    }
}

/// Seconds, or milliseconds when the number is too large to be seconds.
fn unix_to_date(n: i64) -> Option<OffsetDateTime> {
    // Milliseconds when the number is too large for seconds of this era.
    let seconds = if n.unsigned_abs() >= 100_000_000_000 {
        n.checked_div(1000)?
    } else {
        n
    };
    OffsetDateTime::from_unix_timestamp(seconds).ok()
}

/// `2014-09-01T09:10:11.000Z`, as Trakt writes dates.
pub(crate) fn format_date(date: OffsetDateTime) -> String {
    let date = date.to_offset(UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        date.year(),
        u8::from(date.month()),
        date.day(),
        date.hour(),
        date.minute(),
        date.second(),
        date.millisecond()
    )
}

/// `watchedAt` → `watched_at`.
fn snake_case(key: &str) -> String {
    let mut out = String::new();
    for c in key.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else if c == '-' {
            out.push('_');
        } else {
            out.push(c);
        }
    }
    out
}
