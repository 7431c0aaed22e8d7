//! `tessera`: the command line. Each command is a thin `cli()` + `exec()` over
//! `tessera-server`.

mod commands;

use std::process::ExitCode;

use clap::Parser;

// The gateway allocates per request (headers, bodies' frames, futures); glibc's allocator was
// over a tenth of its CPU under load (scripts/bench-gateway with perf).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = commands::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: starting the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(cli.exec()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
