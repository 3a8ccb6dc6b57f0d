//! How `plan` and `apply` print their results: text for a person, YAML or JSON for scripts.
//! Secret-backed values never reach this module (see `ShownChange`).

use std::fmt::Write as _;

use std::path::Path;

use serde::Serialize;

use crate::api::conditions::types;
use crate::local::delete::{DeleteOutcome, DeleteResult};
use crate::local::prune::Orphan;
use crate::local::run::{ActionKind, Mode, RunReport, ServerResult};

/// Output format (`-o`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Yaml,
    Json,
}

/// The command a document reports on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Command {
    Plan,
    Apply,
    Delete,
}

/// The one shape `plan`, `apply` and `delete` print with `-o json|yaml`: the command, the
/// state file, the exit code, every counter (zeros included, so a script can read any of
/// them), one entry per server (`action` says what happened), and the orphans.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Document<'a> {
    pub command: Command,
    pub state_file: &'a Path,
    pub exit_code: u8,
    pub summary: Summary,
    pub servers: Vec<Entry<'a>>,
    /// Servers in the state file whose manifests are gone.
    pub orphaned: &'a [Orphan],
    /// With `--prune`: what happened (under `plan`: would happen) to the orphans.
    pub pruned: &'a [DeleteResult],
    /// Documents that are not mcpsync objects or Secrets.
    pub skipped: &'a [String],
}

/// One server's entry: a sync result (`plan`, `apply`) or a delete result.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum Entry<'a> {
    Sync(&'a ServerResult),
    Delete(&'a DeleteResult),
}

/// How many servers got each action. Under `plan`, `create`, `patch` and `deleted`
/// count what would be done.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    pub servers: usize,
    pub create: usize,
    pub patch: usize,
    pub in_sync: usize,
    pub drift: usize,
    pub missing: usize,
    pub refused: usize,
    pub failed: usize,
    pub suspended: usize,
    pub deleted: usize,
    pub already_gone: usize,
    pub retained: usize,
    pub no_record: usize,
    pub orphaned: usize,
    pub pruned: usize,
    pub skipped: usize,
}

impl Summary {
    fn count_sync(&mut self, action: ActionKind) {
        *match action {
            ActionKind::Create => &mut self.create,
            ActionKind::Patch => &mut self.patch,
            ActionKind::InSync => &mut self.in_sync,
            ActionKind::Drift => &mut self.drift,
            ActionKind::Missing => &mut self.missing,
            ActionKind::Refused => &mut self.refused,
            ActionKind::Failed => &mut self.failed,
            ActionKind::Suspended => &mut self.suspended,
        } += 1;
    }

    fn count_delete(&mut self, outcome: DeleteOutcome) {
        *match outcome {
            DeleteOutcome::Deleted => &mut self.deleted,
            DeleteOutcome::AlreadyGone => &mut self.already_gone,
            DeleteOutcome::Retained => &mut self.retained,
            DeleteOutcome::NoRecord => &mut self.no_record,
            DeleteOutcome::Failed => &mut self.failed,
            DeleteOutcome::Suspended => &mut self.suspended,
        } += 1;
    }

    /// The counters of `plan`/`apply` (with `--prune`'s deletes counted as well).
    pub fn of_run(report: &RunReport) -> Summary {
        let mut summary = Summary {
            servers: report.servers.len(),
            orphaned: report.orphaned.len(),
            pruned: report.pruned.len(),
            skipped: report.skipped.len(),
            ..Summary::default()
        };
        for s in &report.servers {
            summary.count_sync(s.action);
        }
        for p in &report.pruned {
            summary.count_delete(p.outcome);
        }
        summary
    }

    /// The counters of `delete`.
    pub fn of_deletes(results: &[DeleteResult]) -> Summary {
        let mut summary = Summary {
            servers: results.len(),
            ..Summary::default()
        };
        for r in results {
            summary.count_delete(r.outcome);
        }
        summary
    }
}

/// The exit code of `plan`/`apply`: 1 on any error; 2 when a plan has changes pending,
/// or when a record differs from its manifest and stays so (a drift or a missing record
/// under ObserveOnly, which no apply writes); else 0.
pub fn run_exit_code(report: &RunReport, mode: Mode) -> u8 {
    let drift = report
        .servers
        .iter()
        .any(|s| matches!(s.action, ActionKind::Drift | ActionKind::Missing));
    let pending = mode == Mode::Plan && report.has_changes();
    match (report.has_errors(), pending || drift) {
        (true, _) => 1,
        (false, true) => 2,
        (false, false) => 0,
    }
}

/// The exit code of `delete`: 1 when a delete failed, else 0.
pub fn delete_exit_code(results: &[DeleteResult]) -> u8 {
    u8::from(results.iter().any(|r| r.outcome == DeleteOutcome::Failed))
}

/// Renders the result of `plan` or `apply`.
pub fn render(
    report: &RunReport,
    mode: Mode,
    format: Format,
    state_file: &Path,
) -> Result<String, OutputError> {
    let command = match mode {
        Mode::Plan => Command::Plan,
        Mode::Apply => Command::Apply,
    };
    let doc = Document {
        command,
        state_file,
        exit_code: run_exit_code(report, mode),
        summary: Summary::of_run(report),
        servers: report.servers.iter().map(Entry::Sync).collect(),
        orphaned: &report.orphaned,
        pruned: &report.pruned,
        skipped: &report.skipped,
    };
    match format {
        Format::Text => Ok(text(report, mode, &doc.summary)),
        _ => structured(&doc, format),
    }
}

/// Renders the result of `delete`.
pub fn render_deletes(
    results: &[DeleteResult],
    format: Format,
    state_file: &Path,
) -> Result<String, OutputError> {
    let summary = Summary::of_deletes(results);
    if format == Format::Text {
        let mut out = String::new();
        for r in results {
            delete_text(&mut out, r, Mode::Apply, "");
        }
        let _ = writeln!(out, "Delete: {}.", delete_counters(&summary, Mode::Apply));
        return Ok(out);
    }
    let doc = Document {
        command: Command::Delete,
        state_file,
        exit_code: delete_exit_code(results),
        summary,
        servers: results.iter().map(Entry::Delete).collect(),
        orphaned: &[],
        pruned: &[],
        skipped: &[],
    };
    structured(&doc, format)
}

/// The output document could not be written as JSON or YAML.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    #[error("writing the output as JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("writing the output as YAML: {0}")]
    Yaml(#[from] serde_saphyr::ser::Error),
}

fn structured(doc: &Document<'_>, format: Format) -> Result<String, OutputError> {
    Ok(match format {
        Format::Yaml => serde_saphyr::to_string(doc)?,
        _ => serde_json::to_string_pretty(doc)? + "\n",
    })
}

fn text(report: &RunReport, mode: Mode, summary: &Summary) -> String {
    let mut out = String::new();
    for s in &report.servers {
        server_text(&mut out, s, mode);
    }
    for skipped in &report.skipped {
        let _ = writeln!(out, "skipped: {skipped}");
    }
    let pruned: std::collections::BTreeSet<&str> =
        report.pruned.iter().map(|p| p.server.as_str()).collect();
    for orphan in report
        .orphaned
        .iter()
        .filter(|o| !pruned.contains(o.server.as_str()))
    {
        let _ = writeln!(
            out,
            "not in the manifests: {orphan}; its record stays (--prune removes it as its deletionPolicy says)"
        );
    }
    for p in &report.pruned {
        delete_text(&mut out, p, mode, "pruned ");
    }
    let plan = mode == Mode::Plan;
    let counters = [
        (summary.create, if plan { "to create" } else { "created" }),
        (summary.patch, if plan { "to patch" } else { "patched" }),
        (summary.in_sync, "in sync"),
        (summary.drift, "drifted"),
        (summary.missing, "missing"),
        (summary.refused, "refused"),
        (summary.failed, "failed"),
        (summary.suspended, "suspended"),
    ];
    let mut line = nonzero(&counters);
    if !report.pruned.is_empty() {
        let pruned = Summary::of_deletes(&report.pruned);
        line = format!("{line}; pruned: {}", delete_counters(&pruned, mode));
    }
    let _ = writeln!(out, "{}: {line}.", if plan { "Plan" } else { "Apply" });
    out
}

/// The non-zero delete counters, e.g. `1 deleted, 2 retained`.
fn delete_counters(summary: &Summary, mode: Mode) -> String {
    let counters = [
        (
            summary.deleted,
            if mode == Mode::Plan {
                "to delete"
            } else {
                "deleted"
            },
        ),
        (summary.already_gone, "already gone"),
        (summary.retained, "retained"),
        (summary.no_record, "without a record"),
        (summary.failed, "failed"),
        (summary.suspended, "suspended"),
    ];
    nonzero(&counters)
}

/// Only the counters that are not zero (`1 created, 2 in sync`): a summary a person reads
/// at a glance.
fn nonzero(counters: &[(usize, &str)]) -> String {
    let parts: Vec<String> = counters
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, label)| format!("{n} {label}"))
        .collect();
    if parts.is_empty() {
        "no McpServer".to_string()
    } else {
        parts.join(", ")
    }
}

/// How a Secret-backed value is shown (JSON-encoded).
const SECRET: &str = "\"(secret)\"";

fn server_text(out: &mut String, s: &ServerResult, mode: Mode) {
    let id = s.external_id.as_deref().unwrap_or("-");
    let what = match (s.action, mode) {
        (ActionKind::InSync, _) => "in sync".to_string(),
        (ActionKind::Create, Mode::Plan) => "would create".to_string(),
        (ActionKind::Create, Mode::Apply) => "created".to_string(),
        (ActionKind::Patch, Mode::Plan) => format!("would patch {} field(s)", s.changes.len()),
        (ActionKind::Patch, Mode::Apply) => format!("patched {} field(s)", s.changes.len()),
        (ActionKind::Drift, _) => "drifted (ObserveOnly: not written)".to_string(),
        (ActionKind::Missing, _) => "missing".to_string(),
        (ActionKind::Refused, _) => "refused".to_string(),
        (ActionKind::Failed, _) => "failed".to_string(),
        (ActionKind::Suspended, _) => "suspended".to_string(),
    };
    let registry = match (&s.provider, &s.registry) {
        (Some(provider), Some(registry)) => format!(" [{provider} {registry}]"),
        (None, Some(registry)) => format!(" [{registry}]"),
        _ => String::new(),
    };
    let _ = writeln!(out, "{}{registry} id={id}: {what}", s.server);
    for c in &s.changes {
        let new = c.new.to_string();
        let line = match &c.old {
            _ if s.action == ActionKind::Create && new == SECRET => {
                format!("+ {}: (secret)", c.field)
            }
            _ if s.action == ActionKind::Create => format!("+ {}: {new}", c.field),
            _ if new == SECRET => format!("{}: (secret) changed", c.field),
            Some(old) => format!("{}: {old} -> {new}", c.field),
            None => format!("{}: (write-only) -> {new}", c.field),
        };
        let _ = writeln!(out, "    {line}");
    }
    if let Some(m) = &s.message {
        let _ = writeln!(out, "    {m}");
    }
    if mode == Mode::Apply {
        let cond = |t: &str| {
            s.status
                .conditions
                .iter()
                .find(|c| c.type_ == t)
                .map(|c| format!("{t}={}({})", c.status, c.reason))
        };
        let conds: Vec<String> = [types::READY, types::SYNCED, types::STALLED]
            .iter()
            .filter_map(|t| cond(t))
            .collect();
        let avail = s.status.availability.unwrap_or_default().as_str();
        let _ = writeln!(out, "    status: {} availability={avail}", conds.join(" "));
    }
}

fn delete_text(out: &mut String, r: &DeleteResult, mode: Mode, prefix: &str) {
    let id = r.external_id.as_deref().unwrap_or("-");
    let plan = mode == Mode::Plan;
    let what = match r.outcome {
        DeleteOutcome::Deleted if plan => "would be deleted from the registry",
        DeleteOutcome::Deleted => "deleted from the registry",
        DeleteOutcome::AlreadyGone => "already gone from the registry",
        DeleteOutcome::Retained => "kept in the registry",
        DeleteOutcome::NoRecord => "no remote record",
        DeleteOutcome::Failed => "delete failed (kept in the state file)",
        DeleteOutcome::Suspended => "suspended: not deleted (kept in the state file)",
    };
    let _ = writeln!(out, "{prefix}{} id={id}: {what}", r.server);
    if let Some(m) = &r.message {
        let _ = writeln!(out, "    {m}");
    }
}

#[cfg(test)]
mod summary_tests {
    use super::*;
    use crate::api::McpServerStatus;

    fn result(action: ActionKind) -> ServerResult {
        ServerResult {
            server: "ns/s".into(),
            registry: Some("McpRegistry/ns/r".into()),
            provider: Some("pais".into()),
            action,
            external_id: None,
            changes: Vec::new(),
            message: None,
            status: McpServerStatus::default(),
            retry_after: None,
        }
    }

    #[test]
    fn the_summary_shows_only_counters_that_are_not_zero() {
        let report = RunReport {
            servers: vec![
                result(ActionKind::Create),
                result(ActionKind::InSync),
                result(ActionKind::InSync),
            ],
            ..Default::default()
        };
        let text = text(&report, Mode::Plan, &Summary::of_run(&report));
        assert!(text.ends_with("Plan: 1 to create, 2 in sync.\n"), "{text}");
        let empty = super::text(&RunReport::default(), Mode::Apply, &Summary::default());
        assert_eq!(empty, "Apply: no McpServer.\n");
    }
}
