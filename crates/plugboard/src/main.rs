use clap::Parser;
use plugboard::cli::{self, Cli, Command, ServeArgs};
use plugboard::config::unknown_env_vars;
use plugboard::telemetry;
use std::process::ExitCode;

#[actix_web::main]
async fn main() -> ExitCode {
    let mut cli = Cli::parse();
    // The fakes alone need no configuration, store or key.
    if let Some(Command::Sandbox(args)) = cli.command.take_if(|c| matches!(c, Command::Sandbox(_)))
    {
        let _telemetry = telemetry::init(plugboard::config::LogFormat::Text, "info", None);
        return match cli::run_sandbox(args).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("plugboard: {e}");
                ExitCode::FAILURE
            }
        };
    }
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
    let telemetry = telemetry::init(
        config.log_format,
        &config.log,
        config.otlp_endpoint.as_ref(),
    );
    for var in unknown_env_vars(std::env::vars()) {
        tracing::warn!(variable = %var, "unknown PLUGBOARD_* environment variable ignored");
    }
    let result = match cli.command {
        None | Some(Command::Serve(_)) => cli::serve(config).await,
        Some(Command::Keys(cmd)) => cli::run_keys(config, cmd).await,
        Some(Command::Profiles(cmd)) => cli::run_profiles(config, cmd).await,
        Some(Command::Accounts(cmd)) => cli::run_accounts(config, cmd).await,
        Some(Command::Sandbox(_)) => Ok(()),
        Some(Command::Healthcheck(args)) => cli::healthcheck(&config, args).await,
    };
    telemetry.shutdown();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("plugboard: {e}");
            ExitCode::FAILURE
        }
    }
}
