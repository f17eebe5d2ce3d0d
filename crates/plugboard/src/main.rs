use clap::Parser;
use plugboard::cli::{self, Cli, Command, ServeArgs};
use plugboard::config::unknown_env_vars;
use plugboard::telemetry;
use std::process::ExitCode;

#[actix_web::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let default_serve = ServeArgs::default();
    let serve_args = match &cli.command {
        None => Some(&default_serve),
        Some(Command::Serve(a)) => Some(a),
        _ => None,
    };
    let config = match cli::load_config(&cli, serve_args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("plugboard: {e}");
            return ExitCode::from(2);
        }
    };
    telemetry::init(config.log_format, &config.log);
    for var in unknown_env_vars(std::env::vars()) {
        tracing::warn!(variable = %var, "unknown PLUGBOARD_* environment variable ignored");
    }
    let result = match cli.command {
        None | Some(Command::Serve(_)) => cli::serve(config).await,
        Some(Command::Keys(cmd)) => cli::run_keys(config, cmd).await,
        Some(Command::Profiles(cmd)) => cli::run_profiles(config, cmd).await,
        Some(Command::Accounts(cmd)) => cli::run_accounts(config, cmd).await,
        Some(Command::Healthcheck(args)) => cli::healthcheck(&config, args).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("plugboard: {e}");
            ExitCode::FAILURE
        }
    }
}
