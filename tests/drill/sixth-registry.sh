#!/usr/bin/env bash
# The "adding a registry" drill (docs/architecture.md): wires a throwaway sixth provider,
# `drill`, into a scratch worktree of HEAD exactly as a new registry is added, then runs
# the tables that must pick it up (the CRD rules, the contract, end-to-end and simulator
# tests) and prints which existing files the drill had to touch.
#
# `drill` is a copy of PAIS under another id: its provider file, its simulator file, its
# line in each list and its row in the tests' provider table. Generated files (the CRDs,
# docs/providers.md's field table) are regenerated, not edited. Needs git, cargo and
# python3; builds in target/drill (a cold build the first time). Leaves nothing behind.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
scratch=$(mktemp -d)
trap 'git -C "$repo" worktree remove --force "$scratch" >/dev/null 2>&1 || rm -rf "$scratch"' EXIT
git -C "$repo" worktree add --quiet --detach "$scratch" HEAD
cd "$scratch"
export CARGO_TARGET_DIR="$repo/target/drill"

python3 - <<'PY'
import re, pathlib

def copy_as_drill(src, dst):
    text = pathlib.Path(src).read_text()
    text = re.sub(r"\bPais", "Drill", text)          # Pais, PaisProvider
    text = text.replace('"pais"', '"drill"')          # id, simulator prefix
    pathlib.Path(dst).write_text(text)

def insert_after(path, anchor, line):
    p = pathlib.Path(path)
    text = p.read_text()
    assert anchor in text, f"{path}: {anchor!r} not found"
    p.write_text(text.replace(anchor, anchor + line, 1))

# 1. The provider's file and its one line in the provider list.
copy_as_drill("src/provider/pais.rs", "src/provider/drill.rs")
insert_after("src/provider/mod.rs", "    pais: Pais(PaisProvider) => Pais,\n",
             "    /// The drill: a copy of PAIS under another id.\n    drill: Drill(DrillProvider) => Drill,\n")

# 2. The simulator's file and its one line in the simulator's list.
copy_as_drill("src/sim/pais.rs", "src/sim/drill.rs")
insert_after("src/sim/mod.rs", "    pais { Pais: Pais },\n", "    drill { Drill: Drill },\n")

# 3. The tests' provider table: a row copied from PAIS's. Every arm that names
#    `Dialect::Pais` alone is duplicated for `Dialect::Drill`; an arm that shares PAIS's
#    value with others (`A | Dialect::Pais | B =>`) gets `| Dialect::Drill`.
p = pathlib.Path("tests/support/providers.rs")
lines = p.read_text().splitlines(keepends=True)
out, i = [], 0
while i < len(lines):
    line = lines[i]
    indent = len(line) - len(line.lstrip())
    stripped = line.strip()
    if stripped in ("Pais,", "Dialect::Pais,"):              # the enum and ALL
        out += [line, line.replace("Pais", "Drill")]
        i += 1
        continue
    if stripped.startswith("Dialect::Pais =>"):
        arm = [line]
        i += 1
        # The arm runs on while lines are indented deeper, and through a closing bracket
        # at its own indentation (`}),` of a multi-line value).
        while i < len(lines):
            nxt = lines[i]
            n_indent = len(nxt) - len(nxt.lstrip())
            deeper = n_indent > indent and nxt.strip()
            closing = n_indent == indent and nxt.strip()[:1] in (")", "]", "}")
            if not (deeper or closing):
                break
            arm.append(nxt)
            i += 1
            if closing:
                break
        copy = "".join(arm)
        copy = re.sub(r"\bPais", "Drill", copy).replace("pais", "drill")
        out += arm + [copy]
        continue
    if "Dialect::Pais" in line and "|" in line:
        line = line.replace("Dialect::Pais", "Dialect::Pais | Dialect::Drill", 1)
    if re.search(r"\(Dialect::Pais, ", line):                  # tuple patterns
        out += [line, re.sub(r"\bPais", "Drill", line).replace("pais", "drill")]
        i += 1
        continue
    out.append(line)
    i += 1
text = "".join(out)
text = text.replace("pub const ALL: [Dialect; 5]", "pub const ALL: [Dialect; 6]")
text = text.replace("PaisProvider,", "PaisProvider, mcpsync::provider::drill::DrillProvider,", 1) \
    if "use mcpsync::api::{" not in text else text.replace(
    "use mcpsync::api::{", "use mcpsync::provider::drill::DrillProvider;\nuse mcpsync::api::{", 1)
p.write_text(text)
PY

echo "== drill: the existing files it touched (git diff --stat; new files are listed after)"
git diff --stat
git status --short | grep '^??' || true

echo "== drill: generated files regenerated"
cargo run --quiet -- crds > crds/mcpsync.dev_crds.yaml
MCPSYNC_BLESS=1 cargo test --quiet --lib provider::tests::the_docs_field_table_is_the_generated_one >/dev/null
git diff --stat -- crds docs

echo "== drill: the tables pick it up"
cargo fmt
cargo test --no-fail-fast --lib --test crd_schema --test provider_contract --test sim_contract --test local_e2e \
    --test provider_http 2>&1 | grep -E '^test result|FAILED|panicked|^error' || true
echo "== drill: CRD rules and docs name it"
grep -c 'self.provider.drill' crds/mcpsync.dev_crds.yaml
grep -n '| spec |' docs/providers.md
