//! Processes for the deployment-shaped tests: the sandbox as its own process
//! (`plugboard sandbox`), and `plugboard serve` replicas whose platform base URLs point at
//! it, as a real deployment points at the real platforms.

use crate::binary::{BIN, plugboard};
use std::process::Stdio;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

pub(crate) struct SandboxProcess {
    /// `http://127.0.0.1:<port>/sandbox`
    pub url: String,
    _child: Child,
}

impl SandboxProcess {
    pub async fn start() -> SandboxProcess {
        let mut child = Command::new(BIN)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .args(["sandbox", "--listen", "127.0.0.1:0"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let url = tokio::time::timeout(std::time::Duration::from_secs(30), async {
            loop {
                let line = lines.next_line().await.unwrap().expect("sandbox banner");
                if let Some(u) = line.trim().strip_prefix("Plugboard sandbox is running at ") {
                    return u.trim_end_matches('/').to_owned();
                }
            }
        })
        .await
        .expect("the sandbox starts within 30 s");
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        SandboxProcess { url, _child: child }
    }

    /// The origin (`http://127.0.0.1:<port>`), for joining the sandbox's relative links.
    pub fn origin(&self) -> String {
        self.url.trim_end_matches("/sandbox").to_owned()
    }

    /// Sets every platform's app and base URL on a `plugboard serve` command to this
    /// sandbox, with the server's own sandbox off.
    pub fn configure(&self, cmd: &mut Command) {
        cmd.env("PLUGBOARD_SANDBOX", "false");
        for slug in plugboard_sandbox::platforms() {
            let up = slug.to_ascii_uppercase();
            let base = format!("{}/{slug}", self.url);
            match slug {
                "telegram" => {
                    cmd.env(
                        "PLUGBOARD_TELEGRAM_BOT_TOKEN",
                        plugboard_sandbox::DEFAULT_BOT_TOKEN,
                    )
                    .env("PLUGBOARD_TELEGRAM_BASE_URL", &base)
                    .env("PLUGBOARD_TELEGRAM_UPDATES", "polling");
                }
                "bluesky" => {
                    cmd.env("PLUGBOARD_BLUESKY_SERVICE_URL", &base);
                }
                "whatsapp" => {
                    cmd.env("PLUGBOARD_WHATSAPP_BASE_URL", &base);
                }
                _ => {
                    cmd.env(
                        format!("PLUGBOARD_{up}_CLIENT_ID"),
                        plugboard_sandbox::DEFAULT_CLIENT_ID,
                    )
                    .env(
                        format!("PLUGBOARD_{up}_CLIENT_SECRET"),
                        plugboard_sandbox::DEFAULT_CLIENT_SECRET,
                    )
                    .env(format!("PLUGBOARD_{up}_BASE_URL"), &base);
                }
            }
        }
    }

    /// A `plugboard serve` command on `data_dir` pointed at this sandbox.
    pub fn replica(&self, data_dir: &std::path::Path) -> Command {
        let mut cmd = plugboard(data_dir);
        self.configure(&mut cmd);
        cmd
    }
}
