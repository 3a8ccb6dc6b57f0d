//! How `plan` and `apply` print their results: text for a person, YAML or JSON for scripts.
//! Secret-backed values never reach this module (see `ShownChange`).

use std::fmt::Write as _;

use crate::api::conditions::types;
use crate::local::delete::{DeleteOutcome, DeleteResult};
use crate::local::run::{ActionKind, Mode, RunReport, ServerResult};

/// Output format (`-o`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Yaml,
    Json,
}

/// Renders a report.
pub fn render(report: &RunReport, mode: Mode, format: Format) -> Result<String, String> {
    match format {
        Format::Text => Ok(text(report, mode)),
        Format::Yaml => serde_saphyr::to_string(report).map_err(|e| e.to_string()),
        Format::Json => serde_json::to_string_pretty(report)
            .map(|s| s + "\n")
            .map_err(|e| e.to_string()),
    }
}

fn text(report: &RunReport, mode: Mode) -> String {
    let mut out = String::new();
    for s in &report.servers {
        server_text(&mut out, s, mode);
    }
    for skipped in &report.skipped {
        let _ = writeln!(out, "skipped: {skipped}");
    }
    for orphan in &report.orphaned {
        let _ = writeln!(
            out,
            "not in the manifests: {orphan}; its record stays (run `mcpsync delete -f` on its manifest to remove it)"
        );
    }
    let count = |k: ActionKind| report.servers.iter().filter(|s| s.action == k).count();
    let plan = mode == Mode::Plan;
    let counters = [
        (
            ActionKind::Create,
            if plan { "to create" } else { "created" },
        ),
        (ActionKind::Patch, if plan { "to patch" } else { "patched" }),
        (ActionKind::InSync, "in sync"),
        (ActionKind::Drift, "drifted"),
        (ActionKind::Missing, "missing"),
        (ActionKind::Refused, "refused"),
        (ActionKind::Failed, "failed"),
        (ActionKind::Suspended, "suspended"),
    ];
    // Only the counters that are not zero: a summary a person reads at a glance.
    let parts: Vec<String> = counters
        .iter()
        .map(|(kind, label)| (count(*kind), label))
        .filter(|(n, _)| *n > 0)
        .map(|(n, label)| format!("{n} {label}"))
        .collect();
    let _ = writeln!(
        out,
        "{}: {}.",
        if plan { "Plan" } else { "Apply" },
        if parts.is_empty() {
            "no McpServer".to_string()
        } else {
            parts.join(", ")
        }
    );
    out
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
    let _ = writeln!(
        out,
        "{} [{} {}] id={id}: {what}",
        s.server, s.provider, s.registry
    );
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

/// Renders the results of `delete`.
pub fn render_deletes(results: &[DeleteResult], format: Format) -> Result<String, String> {
    match format {
        Format::Yaml => serde_saphyr::to_string(&results).map_err(|e| e.to_string()),
        Format::Json => serde_json::to_string_pretty(results)
            .map(|s| s + "\n")
            .map_err(|e| e.to_string()),
        Format::Text => {
            let mut out = String::new();
            for r in results {
                let id = r.external_id.as_deref().unwrap_or("-");
                let what = match r.outcome {
                    DeleteOutcome::Deleted => "deleted from the registry",
                    DeleteOutcome::AlreadyGone => "already gone from the registry",
                    DeleteOutcome::Retained => "kept in the registry",
                    DeleteOutcome::NoRecord => "no remote record",
                    DeleteOutcome::Failed => "delete failed (kept in the state file)",
                    DeleteOutcome::Suspended => "suspended: not deleted (kept in the state file)",
                };
                let _ = writeln!(out, "{} id={id}: {what}", r.server);
                if let Some(m) = &r.message {
                    let _ = writeln!(out, "    {m}");
                }
            }
            Ok(out)
        }
    }
}

#[cfg(test)]
mod summary_tests {
    use super::*;
    use crate::api::McpServerStatus;

    fn result(action: ActionKind) -> ServerResult {
        ServerResult {
            server: "ns/s".into(),
            registry: "McpRegistry/ns/r".into(),
            provider: "pais".into(),
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
        let text = text(&report, Mode::Plan);
        assert!(text.ends_with("Plan: 1 to create, 2 in sync.\n"), "{text}");
        let empty = super::text(&RunReport::default(), Mode::Apply);
        assert_eq!(empty, "Apply: no McpServer.\n");
    }
}
