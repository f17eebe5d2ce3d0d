use clap::Parser;
use plugboard::cli::Cli;
use std::process::ExitCode;

#[actix_web::main]
async fn main() -> ExitCode {
    plugboard::cli::main_with(Cli::parse()).await
}
