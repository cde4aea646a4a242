//! `trakt-doctor rules`: the rule catalogue as text, Markdown or JSON.

use crate::cli::{RulesArgs, RulesFormat};
use crate::error::Fatal;
use crate::lint::catalogue;

pub(crate) fn run(args: RulesArgs) -> Result<i32, Fatal> {
    match args.format {
        RulesFormat::Text => print!("{}", catalogue::text()),
        RulesFormat::Markdown => print!("{}", catalogue::markdown()),
        RulesFormat::Json => println!("{:#}", catalogue::json()),
    }
    Ok(0)
}
