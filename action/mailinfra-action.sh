#!/usr/bin/env bash
# The steps of the mailinfra GitHub Action (action.yml), runnable anywhere: the test suite
# runs them against the local emulator (tests/action.rs).
#
#   mailinfra-action.sh install   build and install mailinfra from this checkout (locked)
#   mailinfra-action.sh plan      validate (annotations), plan, save PLAN_FILE, job summary
#   mailinfra-action.sh apply     apply PLAN_FILE when it exists, else plan and apply
#   mailinfra-action.sh drift     plan; exit 1 naming the drift when AWS differs
#
# Environment: BLUEPRINT (mailinfra.yaml), PLAN_FILE (mailinfra-plan.json), WAIT (apply:
# e.g. 15m), MAILINFRA (the binary, default `mailinfra` on PATH), GITHUB_STEP_SUMMARY and
# GITHUB_OUTPUT (set by GitHub Actions; optional elsewhere).
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
mailinfra="${MAILINFRA:-mailinfra}"
blueprint="${BLUEPRINT:-mailinfra.yaml}"
plan_file="${PLAN_FILE:-mailinfra-plan.json}"
summary="${GITHUB_STEP_SUMMARY:-/dev/null}"
output="${GITHUB_OUTPUT:-/dev/null}"

changes() { echo "changes=$1" >>"$output"; }

case "${1:-}" in
  install)
    cargo install --locked --path "$here" --root "${MAILINFRA_ROOT:-$HOME/.local}"
    echo "${MAILINFRA_ROOT:-$HOME/.local}/bin" >>"${GITHUB_PATH:-/dev/null}"
    ;;
  plan)
    "$mailinfra" validate "$blueprint" --format github
    status=0
    "$mailinfra" plan "$blueprint" --out "$plan_file" --format markdown --detailed-exitcode \
      >"$plan_file.md" || status=$?
    cat "$plan_file.md" >>"$summary"
    case "$status" in
      0) changes false ;;
      2) changes true ;;
      *) exit "$status" ;;
    esac
    ;;
  apply)
    wait=()
    if [ -n "${WAIT:-}" ]; then wait=("--wait=$WAIT"); fi
    if [ -f "$plan_file" ]; then
      "$mailinfra" apply "$plan_file" --yes "${wait[@]}"
    else
      "$mailinfra" plan "$blueprint" --out "$plan_file" --format markdown >>"$summary"
      "$mailinfra" apply "$plan_file" --yes "${wait[@]}"
    fi
    ;;
  drift)
    status=0
    "$mailinfra" plan "$blueprint" --format markdown --detailed-exitcode >"$plan_file.md" || status=$?
    cat "$plan_file.md" >>"$summary"
    "$mailinfra" status "$blueprint" >>"$summary" || true
    case "$status" in
      0) changes false ;;
      2)
        changes true
        echo "::error title=mailinfra drift::AWS differs from $blueprint: the job summary shows the changes; apply the blueprint or change it"
        exit 1
        ;;
      *) exit "$status" ;;
    esac
    ;;
  *)
    echo "usage: $0 install|plan|apply|drift" >&2
    exit 1
    ;;
esac
