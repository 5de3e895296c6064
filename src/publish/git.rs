//! Publishing to git: commit the Jekyll outputs after a run, and push them (`[publish.git]`).
//!
//! This drives the `git` command line ([`std::process::Command`]) rather than a git crate: it
//! is what the original's CI job ran, it honours the user's credential helpers, SSH keys, hooks
//! and signing settings without newsvault knowing about them, and it adds no dependency. Output
//! is parsed only for one thing, telling a rejected push from other failures, so git runs with
//! `LC_ALL=C`; `GIT_TERMINAL_PROMPT=0` keeps an unattended run from waiting on a password prompt.
//!
//! What it does, in the git work tree that holds the archive folder:
//!
//! 1. `git add --all` the outputs (`_posts/`, `lists/`, `search.json`, and the images a source
//!    with `images = "download"` saved under `assets/images/`) and nothing else: the
//!    store and anything the user has staged are left alone.
//! 2. Commit them, only when `git diff --cached` shows a change in them: never an empty commit.
//!    When git knows no committer (a fresh CI machine), newsvault commits as itself.
//! 3. With `push = true`, push when there is something the remote lacks. A push rejected because
//!    someone pushed first is followed by `git pull --rebase` and another push, up to
//!    `push_attempts` pushes. A conflict in the rebase is resolved in favour of the run's files
//!    (`-X theirs`: in a rebase "theirs" is the commit being replayed): they are derived from the
//!    store, which is the record. Any other push failure (network, permissions) is reported
//!    as it is, without retrying.
//!
//! It does not create repositories, remotes or branches, and never force-pushes.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use thiserror::Error;

use crate::config::GitConfig;
use crate::content::images::IMAGES_DIR;
use crate::publish::jekyll::{LISTS_DIR, POSTS_DIR};

/// The outputs committed, relative to the archive folder: the posts, the images they show
/// (when a source downloads them), the list pages and the search data.
pub const OUTPUTS: [&str; 4] = [POSTS_DIR, IMAGES_DIR, LISTS_DIR, "search.json"];

/// Who commits when git has no identity configured.
const FALLBACK_NAME: &str = "newsvault";
const FALLBACK_EMAIL: &str = "newsvault@localhost";

#[derive(Debug, Error)]
pub enum GitError {
    #[error("cannot run git (is it installed?): {0}")]
    Spawn(std::io::Error),
    #[error("{archive} is not inside a git work tree; run `git init` there or drop [publish.git]")]
    NotARepository { archive: PathBuf },
    /// A git command failed; `stderr` is git's own explanation.
    #[error("`git {args}` failed in {dir}: {stderr}")]
    Command {
        args: String,
        dir: PathBuf,
        stderr: String,
    },
    #[error("HEAD is detached in {dir}; set [publish.git] branch")]
    Detached { dir: PathBuf },
    #[error("push to {remote} {branch} still rejected after {attempts} attempt(s): {stderr}")]
    Rejected {
        remote: String,
        branch: String,
        attempts: u32,
        stderr: String,
    },
}

/// The counts a commit message may mention.
#[derive(Debug, Clone, Copy, Default)]
pub struct Counts {
    pub new: usize,
    pub changed: usize,
}

/// What publishing to git did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GitReport {
    /// The new commit's hash, when one was made.
    pub commit: Option<String>,
    /// `remote branch` pushed to, when a push happened.
    pub pushed_to: Option<String>,
    /// Pulls with rebase needed before the push went through.
    pub rebases: u32,
}

impl GitReport {
    /// One line for the run's output.
    pub fn describe(&self) -> String {
        let mut out = match &self.commit {
            Some(commit) => format!("git: committed {}", &commit[..commit.len().min(12)]),
            None => "git: nothing to commit".to_string(),
        };
        if let Some(target) = &self.pushed_to {
            out.push_str(&format!(", pushed to {target}"));
            if self.rebases > 0 {
                out.push_str(&format!(" after {} rebase(s)", self.rebases));
            }
        }
        out.push('\n');
        out
    }
}

/// The commit message: `{new}` and `{changed}` replaced by `counts`.
pub fn commit_message(template: &str, counts: Counts) -> String {
    template
        .replace("{new}", &counts.new.to_string())
        .replace("{changed}", &counts.changed.to_string())
}

/// Commits (and pushes) the outputs in `archive` as `config` asks.
pub fn publish_to_git(
    archive: &Path,
    config: &GitConfig,
    counts: Counts,
) -> Result<GitReport, GitError> {
    let git = Git {
        dir: archive.to_path_buf(),
    };
    let mut report = GitReport::default();
    if !config.commit && !config.push {
        return Ok(report);
    }
    let inside = git.output(&["rev-parse", "--is-inside-work-tree"])?;
    if !inside.status.success() || String::from_utf8_lossy(&inside.stdout).trim() != "true" {
        return Err(GitError::NotARepository {
            archive: archive.to_path_buf(),
        });
    }
    if config.commit {
        report.commit = commit_outputs(&git, archive, &config.message, counts)?;
    }
    if config.push {
        let branch = match &config.branch {
            Some(branch) => branch.clone(),
            None => git.current_branch()?,
        };
        if report.commit.is_some() || git.remote_lacks_head(&config.remote, &branch)? {
            report.rebases = push_with_rebase(&git, config, &branch)?;
            report.pushed_to = Some(format!("{} {branch}", config.remote));
        }
    }
    Ok(report)
}

/// Stages the outputs and commits them if they changed; the new commit's hash.
fn commit_outputs(
    git: &Git,
    archive: &Path,
    template: &str,
    counts: Counts,
) -> Result<Option<String>, GitError> {
    let paths: Vec<&str> = OUTPUTS
        .iter()
        .copied()
        .filter(|p| archive.join(p).exists())
        .collect();
    if paths.is_empty() {
        return Ok(None);
    }
    git.run(&[&["add", "--all", "--"], &paths[..]].concat())?;
    let staged = git.output(&[&["diff", "--cached", "--quiet", "--"], &paths[..]].concat())?;
    match staged.status.code() {
        Some(0) => return Ok(None),
        Some(1) => {}
        _ => return Err(git.failure(&["diff", "--cached", "--quiet"], &staged)),
    }
    let message = commit_message(template, counts);
    let mut args: Vec<&str> = Vec::new();
    let known = |what| git.output(&["var", what]).map(|o| o.status.success());
    let fallback_name = format!("user.name={FALLBACK_NAME}");
    let fallback_email = format!("user.email={FALLBACK_EMAIL}");
    if !known("GIT_AUTHOR_IDENT")? || !known("GIT_COMMITTER_IDENT")? {
        args.extend(["-c", &fallback_name, "-c", &fallback_email]);
    }
    // `--only` semantics of `commit -- <paths>`: whatever else is staged stays staged.
    args.extend(["commit", "--quiet", "-m", &message, "--"]);
    args.extend(&paths);
    git.run(&args)?;
    let head = git.run(&["rev-parse", "HEAD"])?;
    Ok(Some(head.trim().to_string()))
}

/// Pushes HEAD to `remote branch`; a rejected push is followed by a pull with rebase and another
/// try. Returns the number of rebases.
fn push_with_rebase(git: &Git, config: &GitConfig, branch: &str) -> Result<u32, GitError> {
    let remote = config.remote.as_str();
    let target = format!("HEAD:refs/heads/{branch}");
    for attempt in 1..=config.push_attempts {
        let push = git.output(&["push", "--quiet", remote, &target])?;
        if push.status.success() {
            // Every attempt before this one was rejected and followed by a rebase.
            return Ok(attempt - 1);
        }
        let stderr = String::from_utf8_lossy(&push.stderr).trim().to_string();
        if !is_rejection(&stderr) {
            return Err(git.failure(&["push", remote, &target], &push));
        }
        if attempt == config.push_attempts {
            return Err(GitError::Rejected {
                remote: remote.to_string(),
                branch: branch.to_string(),
                attempts: attempt,
                stderr,
            });
        }
        tracing::info!("push to {remote} {branch} rejected; pulling with rebase and retrying");
        let pull = git.output(&[
            "pull",
            "--quiet",
            "--rebase",
            "--autostash",
            "-X",
            "theirs",
            remote,
            branch,
        ])?;
        if !pull.status.success() {
            // Leave the work tree as it was before the pull, for a person to look at.
            let _ = git.output(&["rebase", "--abort"]);
            return Err(git.failure(&["pull", "--rebase", remote, branch], &pull));
        }
    }
    unreachable!("push_attempts is at least 1 (checked with the config)")
}

/// Whether a failed push was refused because the remote has commits we lack.
/// (A hook's refusal, "[remote rejected]", is not: pulling would not change its mind.)
fn is_rejection(stderr: &str) -> bool {
    stderr.lines().any(|line| {
        line.contains("[rejected]")
            && (line.contains("fetch first") || line.contains("non-fast-forward"))
    })
}

/// The git command line, run in one folder.
struct Git {
    dir: PathBuf,
}

impl Git {
    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new("git");
        command
            .arg("-C")
            .arg(&self.dir)
            .args(args)
            .env("LC_ALL", "C")
            .env("GIT_TERMINAL_PROMPT", "0")
            .stdin(std::process::Stdio::null());
        command
    }

    fn output(&self, args: &[&str]) -> Result<Output, GitError> {
        tracing::debug!("git {}", args.join(" "));
        self.command(args).output().map_err(GitError::Spawn)
    }

    /// Runs git and returns its stdout; a non-zero exit is an error.
    fn run(&self, args: &[&str]) -> Result<String, GitError> {
        let output = self.output(args)?;
        if !output.status.success() {
            return Err(self.failure(args, &output));
        }
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }

    fn failure(&self, args: &[&str], output: &Output) -> GitError {
        let stderr = String::from_utf8_lossy(&output.stderr).trim().to_string();
        GitError::Command {
            args: args.join(" "),
            dir: self.dir.clone(),
            stderr: if stderr.is_empty() {
                format!("exit status {}", output.status)
            } else {
                stderr
            },
        }
    }

    fn current_branch(&self) -> Result<String, GitError> {
        let output = self.output(&["symbolic-ref", "--quiet", "--short", "HEAD"])?;
        if !output.status.success() {
            return Err(GitError::Detached {
                dir: self.dir.clone(),
            });
        }
        Ok(String::from_utf8_lossy(&output.stdout).trim().to_string())
    }

    /// Whether HEAD has commits that `remote`'s `branch` (as last seen) lacks; true when that
    /// is unknown, so an earlier failed push is made up for.
    fn remote_lacks_head(&self, remote: &str, branch: &str) -> Result<bool, GitError> {
        let range = format!("refs/remotes/{remote}/{branch}..HEAD");
        let output = self.output(&["rev-list", "--count", &range])?;
        if !output.status.success() {
            return Ok(true);
        }
        Ok(String::from_utf8_lossy(&output.stdout).trim() != "0")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn parse(text: &str) -> Result<Config, String> {
        Config::parse(text, Path::new("t.toml"), Path::new("/base")).map_err(|e| e.to_string())
    }

    #[test]
    fn messages_carry_the_counts() {
        let counts = Counts { new: 3, changed: 1 };
        assert_eq!(
            commit_message(crate::config::DEFAULT_GIT_MESSAGE, counts),
            "newsvault: 3 new, 1 changed posts"
        );
        assert_eq!(commit_message("{new}/{new} {x}", counts), "3/3 {x}");
    }

    #[test]
    fn the_section_has_defaults_and_refuses_unknown_keys_and_passwords() {
        assert!(parse("").unwrap().publish.git.is_none());
        let git = parse("[publish.git]\n").unwrap().publish.git.unwrap();
        assert!(git.commit && !git.push);
        assert_eq!(git.remote, "origin");
        assert_eq!(git.branch, None);
        assert_eq!(git.push_attempts, crate::config::DEFAULT_GIT_PUSH_ATTEMPTS);
        let err = parse("[publish.git]\npussh = true\n").unwrap_err();
        assert!(
            err.starts_with("t.toml:2:") && err.contains("pussh"),
            "{err}"
        );
        let err =
            parse("[publish.git]\nremote = \"https://me:secret@example.com/a.git\"\n").unwrap_err();
        assert!(err.contains("password"), "{err}");
        assert!(parse("[publish.git]\npush_attempts = 0\n").is_err());
    }

    #[test]
    fn rejections_are_told_from_other_failures() {
        assert!(is_rejection(
            " ! [rejected]        HEAD -> main (fetch first)\nerror: failed to push some refs"
        ));
        assert!(is_rejection(
            " ! [rejected] HEAD -> main (non-fast-forward)"
        ));
        assert!(!is_rejection(
            "fatal: could not read Username for 'https://example.com': terminal prompts disabled"
        ));
        assert!(!is_rejection(
            " ! [remote rejected] HEAD -> main (pre-receive hook declined)"
        ));
    }
}
