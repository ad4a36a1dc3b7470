//! A mistake on the command line, said in Russian (SPEC §21): clap finds it, this says
//! it — which option, which value, what is allowed — and where the help is. Help and
//! version output are clap's own.

use clap::error::{ContextKind, ContextValue, ErrorKind};

fn context(e: &clap::Error, kind: ContextKind) -> Vec<String> {
    match e.get(kind) {
        Some(ContextValue::String(s)) => vec![s.clone()],
        Some(ContextValue::Strings(v)) => v.clone(),
        Some(ContextValue::StyledStr(s)) => vec![s.to_string()],
        Some(ContextValue::StyledStrs(v)) => v.iter().map(ToString::to_string).collect(),
        Some(ContextValue::Number(n)) => vec![n.to_string()],
        _ => Vec::new(),
    }
}

/// An option or argument as clap names it (`--role <ROLE>`), without its value name
/// when it is an option.
fn option(s: &str) -> String {
    match s.split_once(' ') {
        Some((flag, _)) if flag.starts_with('-') => flag.to_string(),
        _ => s.to_string(),
    }
}

/// The one line that says what is wrong, in Russian.
pub fn russian(e: &clap::Error) -> String {
    let arg = context(e, ContextKind::InvalidArg).first().map(|a| option(a)).unwrap_or_default();
    let value = context(e, ContextKind::InvalidValue).into_iter().next().unwrap_or_default();
    let suggested: Vec<String> =
        [ContextKind::SuggestedArg, ContextKind::SuggestedSubcommand, ContextKind::SuggestedValue]
            .into_iter()
            .flat_map(|k| context(e, k))
            .collect();
    let hint = match suggested.first() {
        Some(s) => format!("; может быть, `{s}`?"),
        None => String::new(),
    };
    let line = match e.kind() {
        ErrorKind::UnknownArgument => format!("неизвестный параметр `{arg}`{hint}"),
        ErrorKind::InvalidSubcommand => {
            let name = context(e, ContextKind::InvalidSubcommand).into_iter().next().unwrap_or_default();
            format!("нет такой команды `{name}`{hint}")
        }
        ErrorKind::InvalidValue => {
            let valid = context(e, ContextKind::ValidValue);
            if value.is_empty() {
                format!("{arg}: нужно значение")
            } else if valid.is_empty() {
                format!("{arg}: недопустимое значение `{value}`{hint}")
            } else {
                format!("{arg}: недопустимое значение `{value}`; можно: `{}`{hint}", valid.join("`, `"))
            }
        }
        ErrorKind::ValueValidation => format!("{arg}: `{value}` — не подходит (нужно {})", wanted(e)),
        ErrorKind::MissingRequiredArgument => {
            let missing: Vec<String> = context(e, ContextKind::InvalidArg).iter().map(|a| option(a)).collect();
            format!("не хватает обязательного: `{}`", missing.join("`, `"))
        }
        ErrorKind::ArgumentConflict => {
            let other = context(e, ContextKind::PriorArg).first().map(|a| option(a)).unwrap_or_default();
            format!("{arg} нельзя указывать вместе с {other}")
        }
        ErrorKind::MissingSubcommand => "нужно назвать команду".to_string(),
        ErrorKind::TooManyValues | ErrorKind::WrongNumberOfValues | ErrorKind::TooFewValues => {
            format!("{arg}: не то число значений")
        }
        ErrorKind::NoEquals => format!("{arg}: значение пишут после знака «=»"),
        ErrorKind::InvalidUtf8 => "параметры командной строки должны быть в UTF-8".to_string(),
        _ => "параметры команды не поняты".to_string(),
    };
    format!("{line} (подробнее: `caseledger --help`)")
}

/// What an option's value must be, from the type clap failed to read it as.
fn wanted(e: &clap::Error) -> &'static str {
    let source = std::error::Error::source(e).map(ToString::to_string).unwrap_or_default();
    if source.contains("digit") || source.contains("number") || source.contains("integer") {
        "целое число"
    } else {
        "другое значение"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser, Debug)]
    struct Demo {
        #[arg(long)]
        year: Option<i32>,
        #[arg(long, value_parser = ["recorder", "admin"])]
        role: Option<String>,
        #[arg(long, conflicts_with = "year")]
        quarter: Option<String>,
        #[arg(long)]
        name: String,
    }

    fn said(args: &[&str]) -> String {
        let e = Demo::try_parse_from(std::iter::once("demo").chain(args.iter().copied())).unwrap_err();
        russian(&e)
    }

    #[test]
    fn clap_mistakes_are_said_in_russian() {
        for (args, words) in [
            (vec!["--name", "а", "--yaer", "1"], "неизвестный параметр `--yaer`; может быть, `--year`?"),
            (vec!["--name", "а", "--year", "20x1"], "--year: `20x1` — не подходит (нужно целое число)"),
            (vec!["--name", "а", "--role", "boss"], "--role: недопустимое значение `boss`; можно: `recorder`, `admin`"),
            (vec!["--year", "2021"], "не хватает обязательного: `--name`"),
            (vec!["--name", "а", "--year", "2021", "--quarter", "2021Q1"], "нельзя указывать вместе с"),
        ] {
            let line = said(&args);
            assert!(line.contains(words), "{args:?}: {line}");
            assert_eq!(crate::say::slip(&line), None, "{line}");
        }
    }
}
