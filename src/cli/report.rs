//! `vcall report`'s flags.

use std::path::PathBuf;

use clap::Args;

#[derive(Debug, Args)]
pub(crate) struct ReportArgs {
    /// The JSON lines of a run (`vcall subscribe --json --stats-interval 1s > run.jsonl`;
    /// with `--report` the run's lines also carry pictures), or - for stdin
    #[arg(value_name = "RUN.jsonl")]
    pub(crate) input: PathBuf,
    /// Where the report goes: one self-contained HTML file
    #[arg(short, long, value_name = "FILE.html")]
    pub(crate) output: PathBuf,
}
