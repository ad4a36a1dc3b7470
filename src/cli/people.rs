//! People and programs that may use the ledger: `token` (bearer tokens of the JSON
//! API) and `user` (logins of the web pages, tied to a curator code), SPEC §12, §21.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::args::{TokenCommand, UserCommand};
use crate::access;
use crate::error::{Error, Result};

/// A role as `--role` names it.
fn role_of(role: &str) -> Result<access::Role> {
    access::Role::parse(role).ok_or_else(|| {
        Error::Usage(format!("--role: `{role}` — нет такой роли; можно: `recorder`, `analyst`, `auditor`, `admin`"))
    })
}

/// `caseledger token …`.
pub(super) fn token(dir: &Path, cmd: TokenCommand, json: bool, out: &mut dyn Write) -> Result<()> {
    let path_of = |t: Option<PathBuf>| t.unwrap_or_else(|| crate::server::default_tokens_path(dir));
    match cmd {
        TokenCommand::Add { name, role, tokens } => {
            let role = role_of(&role)?;
            let token = access::add(&path_of(tokens), &name, role)?;
            writeln!(out, "{token}")?;
        }
        TokenCommand::List { tokens } => {
            let list = access::list(&path_of(tokens))?;
            if json {
                let v: Vec<_> = list
                    .iter()
                    .map(|(n, r, c)| serde_json::json!({"name": n, "role": r.as_str(), "created_at": c}))
                    .collect();
                writeln!(out, "{}", serde_json::Value::Array(v))?;
            } else {
                for (n, r, c) in list {
                    writeln!(out, "{n}\t{}\t{c}", r.as_str())?;
                }
            }
        }
        TokenCommand::Remove { name, tokens } => {
            access::remove(&path_of(tokens), &name)?;
            writeln!(out, "токен {name} удалён (действует после перезапуска serve)")?;
        }
    }
    Ok(())
}

/// `caseledger user …`.
pub(super) fn user(dir: &Path, cmd: UserCommand, json: bool, out: &mut dyn Write) -> Result<()> {
    let path = access::default_users_path(dir);
    match cmd {
        UserCommand::Add { name, role, curator } => {
            let role = role_of(&role)?;
            if let Some(c) = &curator {
                crate::ledger::event::check_code("curator", c)
                    .map_err(|r| Error::Usage(format!("--curator: {}", r.reason)))?;
            }
            access::add_user(&path, &name, role, &read_password()?)?;
            if let Some(c) = &curator {
                access::set_curator(&path, &name, Some(c))?;
            }
            let tied = curator.map(|c| format!(", куратор {c}")).unwrap_or_default();
            writeln!(out, "пользователь {name} добавлен ({}{tied})", role.as_str())?;
        }
        UserCommand::Curator { name, code, none: _ } => {
            access::set_curator(&path, &name, code.as_deref())?;
            match code {
                Some(c) => writeln!(out, "пользователь {name} записывает как куратор {c}")?,
                None => writeln!(out, "пользователь {name} больше не привязан к куратору")?,
            }
        }
        UserCommand::List => {
            let list = access::list_users(&path)?;
            if json {
                let v: Vec<_> = list.iter().map(|u| serde_json::to_value(u).unwrap_or_default()).collect();
                writeln!(out, "{}", serde_json::Value::Array(v))?;
            } else {
                for u in list {
                    let mut line = format!("{}\t{}\t{}", u.name, u.role.as_str(), u.created_at);
                    if let Some(k) = &u.curator {
                        line.push_str(&format!("\tкуратор {k}"));
                    }
                    if u.disabled {
                        line.push_str("\tвход отключён");
                    }
                    writeln!(out, "{line}")?;
                }
            }
        }
        UserCommand::Disable { name } => {
            access::set_disabled(&path, &name, true)?;
            writeln!(out, "вход пользователя {name} отключён")?;
        }
        UserCommand::Enable { name } => {
            access::set_disabled(&path, &name, false)?;
            writeln!(out, "вход пользователя {name} включён")?;
        }
        UserCommand::Remove { name } => {
            access::remove_user(&path, &name)?;
            writeln!(out, "пользователь {name} удалён")?;
        }
        UserCommand::Passwd { name } => {
            access::set_password(&path, &name, &read_password()?)?;
            writeln!(out, "пароль пользователя {name} изменён")?;
        }
    }
    Ok(())
}

/// The first line of stdin, without its line end (a password given by a script, or
/// typed).
fn read_password() -> Result<String> {
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .map_err(|e| Error::Usage(format!("пароль со стандартного ввода не прочитан: {e}")))?;
    Ok(line.trim_end_matches(['\n', '\r']).to_string())
}
