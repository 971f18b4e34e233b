//! `portcullis connect NAME`: a libpq connection string for a connection,
//! with the token from `login` as the password, or psql started with it.
//!
//! The printed string carries the token in `password=` so that
//! `psql "$(portcullis connect NAME)"` works as is; a string on a command
//! line is visible to other users of the machine (`ps`), so `--exec` passes
//! the token in `PGPASSWORD` instead and `--no-password` leaves it out.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, bail};
use portcullis_core::config::{Config, OidcIssuer};
use portcullis_core::time::{format_micros, now_micros};

use super::credentials::{self, Stored};
use super::login::{accept, endpoints, http, oauth_error, pick_issuer, runtime};
use crate::cli::ConnectArgs;

/// A token this close to its end is refreshed first, so psql does not
/// connect with a token that dies during its handshake.
const MARGIN_SECS: i64 = 10;

pub fn run(config_path: &Path, args: ConnectArgs) -> anyhow::Result<ExitCode> {
    let config = super::load_config(config_path)?;
    if config.connection(&args.name).is_none() {
        bail!("no connection {:?} in the configuration", args.name);
    }
    let issuer = pick_issuer(&config, args.issuer.as_deref())?.clone();
    let mut all = credentials::load()?;
    let Some(stored) = all.get(&issuer.issuer).cloned() else {
        bail!(
            "not signed in to {}: run `portcullis login` first",
            issuer.issuer
        );
    };
    let stored = if stored.valid_until - MARGIN_SECS <= now_micros() / 1_000_000 {
        let fresh = refresh(&issuer, &stored)?;
        all.insert(issuer.issuer.clone(), fresh.clone());
        credentials::save(&all)?;
        fresh
    } else {
        stored
    };

    let mut params = base_params(&config, &args, &stored)?;
    if args.exec {
        let dsn = render(&params);
        let status = std::process::Command::new("psql")
            .arg(&dsn)
            .args(&args.psql_args)
            .env("PGPASSWORD", &stored.id_token)
            .status()
            .context("starting psql")?;
        return Ok(ExitCode::from(
            u8::try_from(status.code().unwrap_or(1)).unwrap_or(1),
        ));
    }
    if !args.no_password {
        params.push(("password", stored.id_token.clone()));
    }
    println!("{}", render(&params));
    Ok(ExitCode::SUCCESS)
}

fn base_params(
    config: &Config,
    args: &ConnectArgs,
    stored: &Stored,
) -> anyhow::Result<Vec<(&'static str, String)>> {
    let listen = config
        .listen
        .postgres
        .context("the configuration has no [listen] postgres address")?;
    let host = match &args.host {
        Some(h) => h.clone(),
        None if listen.ip().is_unspecified() => "localhost".to_string(),
        None => listen.ip().to_string(),
    };
    let port = match args.port {
        Some(p) => p,
        None if listen.port() == 0 => {
            bail!("[listen] postgres picks its port at start (port 0): pass --port")
        }
        None => listen.port(),
    };
    let mut params = vec![
        ("host", host),
        ("port", port.to_string()),
        ("dbname", args.name.clone()),
        ("user", stored.identity.clone()),
    ];
    // The token is a password: never send it in clear when the gateway
    // offers TLS; verify the gateway when we know its CA.
    match (&config.listen.tls, &args.sslrootcert) {
        (_, Some(ca)) => {
            params.push(("sslmode", "verify-full".into()));
            params.push(("sslrootcert", ca.display().to_string()));
        }
        (Some(_), None) => params.push(("sslmode", "require".into())),
        (None, None) => params.push(("sslmode", "disable".into())),
    }
    Ok(params)
}

/// libpq keyword/value syntax: values with spaces, quotes or backslashes
/// (or empty ones) are single-quoted with `\` escapes.
fn render(params: &[(&str, String)]) -> String {
    params
        .iter()
        .map(|(k, v)| {
            let plain = !v.is_empty()
                && !v
                    .chars()
                    .any(|c| c.is_whitespace() || c == '\'' || c == '\\');
            if plain {
                format!("{k}={v}")
            } else {
                format!("{k}='{}'", v.replace('\\', "\\\\").replace('\'', "\\'"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn refresh(issuer: &OidcIssuer, stored: &Stored) -> anyhow::Result<Stored> {
    let expired = format_micros(stored.valid_until.saturating_mul(1_000_000));
    let Some(refresh_token) = stored.refresh_token.clone() else {
        bail!("your sign-in expired at {expired}: run `portcullis login` again");
    };
    runtime()?.block_on(async {
        let http = http()?;
        let ep = endpoints(&http, &issuer.issuer).await?;
        let resp = http
            .post_form(
                &ep.token,
                &[
                    ("grant_type", "refresh_token"),
                    ("refresh_token", &refresh_token),
                    ("client_id", &stored.client_id),
                ],
            )
            .await?;
        if resp.status != 200 {
            let (e, _) = oauth_error(&resp.bytes).unwrap_or_default();
            bail!(
                "your sign-in expired at {expired} and could not be renewed ({e}): run `portcullis login` again"
            );
        }
        accept(&http, issuer, &resp.bytes, Some(refresh_token)).await
    })
}

#[cfg(test)]
mod tests {
    use super::render;

    #[test]
    fn values_are_quoted_only_when_libpq_needs_it() {
        let s = render(&[
            ("user", "a@b.c".into()),
            ("password", "it's a \\ test".into()),
            ("x", String::new()),
        ]);
        assert_eq!(s, r"user=a@b.c password='it\'s a \\ test' x=''");
    }
}
