//! Command-line interface definition.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Parser)]
#[command(
    name = "portcullis",
    version,
    about = "Layer 7 access gateway: identity, guardrails, masking and recording for database sessions"
)]
pub struct Cli {
    /// Configuration file.
    #[arg(
        long,
        global = true,
        env = "PORTCULLIS_CONFIG",
        default_value = "portcullis.toml"
    )]
    pub config: PathBuf,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run the gateway.
    Serve,
    /// Validate configuration files.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Service-account tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Recorded sessions.
    #[command(subcommand)]
    Sessions(SessionsCommand),
    /// TLS certificates.
    #[command(subcommand)]
    Cert(CertCommand),
    /// Guardrail policies.
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// The gateway's session signing key.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// The audit log of administrative and security events.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Who may use what.
    #[command(subcommand)]
    Access(AccessCommand),
    /// Sign in with the configured OIDC provider (device flow) and keep the
    /// token for `connect`.
    Login(LoginArgs),
    /// Print a libpq connection string for a connection, signed in with the
    /// token from `login`, or start psql with it.
    Connect(ConnectArgs),
    /// Statements held for review: list, inspect, approve, reject (through
    /// the gateway's API, with your own token).
    Review(ReviewArgs),
    /// Serve one AI agent over MCP on stdin/stdout; its token comes from
    /// `PORTCULLIS_TOKEN`. (Over HTTP, agents use `/mcp` on the API listener.)
    Mcp,
}

#[derive(Args)]
pub struct ReviewArgs {
    /// The API's base URL (default: from `listen.api` in the configuration).
    #[arg(long, global = true, env = "PORTCULLIS_API")]
    pub api: Option<String>,
    /// Your token (as for any client); prefer the environment variable.
    #[arg(long, global = true, env = "PORTCULLIS_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// A CA certificate to trust for an HTTPS API.
    #[arg(long, global = true)]
    pub ca: Option<PathBuf>,
    /// Print JSON instead of text.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: ReviewCommand,
}

#[derive(Subcommand)]
pub enum ReviewCommand {
    /// Reviews you may decide or requested (pending ones by default).
    List {
        /// `pending`, `approved`, `rejected` or `all`.
        #[arg(long, default_value = "pending")]
        state: String,
    },
    /// One review in full: statement, parameters, who, where, which rule, estimate.
    Show { id: u64 },
    /// Approve: with enough approvals the statement runs, exactly once.
    Approve { id: u64 },
    /// Reject, with a reason the requester is shown.
    Reject {
        id: u64,
        #[arg(long)]
        reason: String,
    },
}

#[derive(Args)]
pub struct LoginArgs {
    /// The `[[oidc]]` issuer to sign in with (default: the first).
    #[arg(long)]
    pub issuer: Option<String>,
}

#[derive(Args)]
pub struct ConnectArgs {
    /// The connection (becomes `dbname`).
    pub name: String,
    /// The `[[oidc]]` issuer whose token to use (default: the first).
    #[arg(long)]
    pub issuer: Option<String>,
    /// Host clients reach the gateway at (default: from `[listen] postgres`).
    #[arg(long)]
    pub host: Option<String>,
    /// Port clients reach the gateway at (default: from `[listen] postgres`).
    #[arg(long)]
    pub port: Option<u16>,
    /// CA that signed the gateway's certificate: sslmode becomes verify-full.
    #[arg(long)]
    pub sslrootcert: Option<PathBuf>,
    /// Leave the token out of the printed string (pass it as PGPASSWORD yourself).
    #[arg(long)]
    pub no_password: bool,
    /// Start psql with the connection (the token goes in PGPASSWORD, not on
    /// a command line); arguments after `--` go to psql.
    #[arg(long)]
    pub exec: bool,
    #[arg(last = true)]
    pub psql_args: Vec<String>,
}

#[derive(Subcommand)]
pub enum AccessCommand {
    /// Explain whether an identity may use a connection, through which
    /// grant, and under which policy.
    Explain {
        #[arg(long)]
        identity: String,
        #[arg(long)]
        connection: String,
        /// Extra groups the identity's token carries.
        #[arg(long = "group")]
        groups: Vec<String>,
    },
}

#[derive(Subcommand)]
pub enum AuditCommand {
    /// List audit entries, newest first.
    List {
        /// Only entries within this long ago, e.g. `7d`.
        #[arg(long)]
        since: Option<humantime::Duration>,
        /// Only this action, or a prefix ending in a dot (`token.`).
        #[arg(long)]
        action: Option<String>,
        #[arg(long, default_value_t = 200)]
        limit: u64,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
}

#[derive(Subcommand)]
pub enum KeysCommand {
    /// Print the public key that seals recorded sessions.
    Show,
}

#[derive(Subcommand)]
pub enum PolicyCommand {
    /// Classify statements and show the verdict each would get; exits 1 if
    /// any would be blocked or held for review.
    Check(PolicyCheckArgs),
}

#[derive(Args)]
pub struct PolicyCheckArgs {
    /// Judge with the policy of this connection (from --config).
    #[arg(long, conflicts_with = "preset", required_unless_present = "preset")]
    pub connection: Option<String>,
    /// Judge with a built-in preset; needs no configuration.
    #[arg(long)]
    pub preset: Option<String>,
    /// Judge as this identity (its groups and grants apply).
    #[arg(long)]
    pub identity: Option<String>,
    /// Read statements from a file instead of the argument.
    #[arg(long, conflicts_with = "sql")]
    pub file: Option<PathBuf>,
    /// The statements (several may be separated by semicolons).
    #[arg(required_unless_present = "file")]
    pub sql: Option<String>,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

#[derive(Subcommand)]
pub enum ConfigCommand {
    /// Check a configuration file without starting anything (default: --config).
    Check { file: Option<PathBuf> },
}

#[derive(Subcommand)]
pub enum TokenCommand {
    /// Mint a token; prints it alone on stdout, once.
    Create {
        #[arg(long)]
        identity: String,
        /// Lifetime, e.g. `24h`, `30m`, `90d`; none means no expiry.
        #[arg(long)]
        ttl: Option<humantime::Duration>,
        /// Extra group for this token (repeatable).
        #[arg(long = "group")]
        groups: Vec<String>,
    },
    /// List tokens (never their secrets).
    List {
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Revoke a token by id.
    Revoke { id: String },
}

#[derive(Subcommand)]
pub enum SessionsCommand {
    /// List recorded sessions, newest first.
    List(SessionFilterArgs),
    /// Show one session and its statements.
    Show {
        id: String,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Check a session's hash chain and seal, from the store or from an
    /// exported file (offline, with the gateway's public key).
    Verify {
        #[arg(required_unless_present = "file", conflicts_with = "file")]
        id: Option<String>,
        /// An export written by `sessions export`.
        #[arg(long, requires = "public_key")]
        file: Option<PathBuf>,
        /// The gateway's public key (hex, from `portcullis keys show`).
        #[arg(long)]
        public_key: Option<String>,
    },
    /// Write a self-contained, verifiable copy of a session to stdout.
    Export {
        id: String,
        /// Write the session's terminal (input, output, resizes) as an
        /// asciicast v2 recording instead, which `asciinema play` plays.
        #[arg(long)]
        asciicast: bool,
        /// With `--asciicast`: the terminal channel, when the session had
        /// several (default: the first).
        #[arg(long, requires = "asciicast")]
        channel: Option<u32>,
    },
    /// End a live session now (its client is told, its recording closes as `killed`).
    Kill { id: String },
    /// Print a session's exchange in order, psql-style.
    Replay {
        id: String,
        /// Replay with the original pauses between statements, this many
        /// times faster (1 = real time); without it, print at once.
        #[arg(long)]
        speed: Option<f64>,
    },
}

#[derive(Args)]
pub struct SessionFilterArgs {
    #[arg(long)]
    pub identity: Option<String>,
    #[arg(long)]
    pub connection: Option<String>,
    /// Only sessions started within this long ago, e.g. `7d`.
    #[arg(long)]
    pub since: Option<humantime::Duration>,
    /// Only sessions started more than this long ago.
    #[arg(long)]
    pub until: Option<humantime::Duration>,
    /// Only sessions with a statement that got this verdict (`block`, `review`, `allow`).
    #[arg(long)]
    pub verdict: Option<String>,
    #[arg(long, default_value_t = 100)]
    pub limit: u64,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

#[derive(Subcommand)]
pub enum CertCommand {
    /// Write a self-signed certificate and key for trying TLS locally.
    Dev {
        /// Directory to write cert.pem and key.pem into.
        #[arg(long, default_value = ".portcullis/tls")]
        out: PathBuf,
        /// Names the certificate is valid for.
        #[arg(long = "name", default_values_t = vec!["localhost".to_string(), "127.0.0.1".to_string()])]
        names: Vec<String>,
    },
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Json,
}
