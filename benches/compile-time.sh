#!/usr/bin/env bash
# Compile-time cost of #[derive(Checkpoint)].
#
# Generates, under target/compile-bench/, a user crate of N structs (default
# 50) deriving Checkpoint, and the same crate deriving serde's traits alone
# (the derived field becomes #[serde(skip)]). For each it times a clean
# build (dependencies included, fresh target dir), a from-scratch build of
# the user crate alone, and an incremental rebuild after editing the crate. With --workspace it also times a clean and an
# incremental build of this workspace, in a target dir of its own. With
# --instructions it also counts the instructions rustc executes to build the
# user crate alone (valgrind): unlike times, the count does not depend on
# what else the machine is running.
#
#   benches/compile-time.sh [--workspace] [--instructions] [N]
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
workspace=false
instructions=false
n=50
for arg in "$@"; do
    case $arg in
        --workspace) workspace=true ;;
        --instructions) instructions=true ;;
        *) n=$arg ;;
    esac
done
out=$root/target/compile-bench

seconds() { # command... -> elapsed seconds on stdout; a failed build stops the script
    local start end log
    log=$(mktemp)
    start=$(date +%s.%N)
    if ! "$@" >"$log" 2>&1; then
        cat "$log" >&2
        echo "failed: $*" >&2
        exit 1
    fi
    end=$(date +%s.%N)
    rm -f "$log"
    echo "$end - $start" | bc
}

min_of_3() { # command... -> the fastest of three runs (the machine may be shared)
    local best t
    best=$(seconds "$@")
    for _ in 1 2; do
        t=$(seconds "$@")
        if (($(echo "$t < $best" | bc))); then best=$t; fi
    done
    echo "$best"
}

generate() { # kind(checkpoint|serde) dir
    local kind=$1 dir=$2
    mkdir -p "$dir/src"
    cat > "$dir/Cargo.toml" <<TOML
[package]
name = "bench-$kind"
version = "0.0.0"
edition = "2021"
publish = false

[dependencies]
checkpoint = { path = "$root" }
serde = { version = "1", features = ["derive"] }

[workspace]
TOML
    {
        echo "#![allow(dead_code)]"
        echo "use std::collections::HashMap;"
        echo "#[derive(Clone, serde::Serialize, serde::Deserialize)]"
        echo "pub struct Message { pub id: u64, pub body: String }"
        for i in $(seq 1 "$n"); do
            if [ "$kind" = checkpoint ]; then
                echo "#[derive(checkpoint::Checkpoint)]"
                derived="#[derived(from = log.len())]"
            else
                echo "#[derive(serde::Serialize, serde::Deserialize)]"
                derived="#[serde(skip)]"
            fi
            cat <<RUST
pub struct State$i<T> {
    pub seq: u64,
    pub name: String,
    pub log: Vec<Message>,
    pub counts: HashMap<String, u32>,
    pub last: Option<(u64, String)>,
    pub extra: T,
    $derived
    pub len: usize,
}
RUST
        done
    } > "$dir/src/lib.rs"
}

row() { printf '| %-32s | %10s | %10s | %11s |\n' "$1" "$2" "$3" "$4"; }

# drop the artifacts of the user crate only, keeping its dependencies
forget_crate() { rm -rf "$1"/target/debug/.fingerprint/bench-* "$1"/target/debug/deps/*bench_* "$1"/target/debug/incremental/bench_*; }

edit_and_build() { echo "// edit" >>"$1/src/lib.rs" && cargo build --manifest-path "$1/Cargo.toml"; }
fresh_crate_build() { forget_crate "$1" && cargo build --manifest-path "$1/Cargo.toml"; }

# instructions rustc executes building the user crate in $1 (dependencies built)
count_instructions() {
    local wrapper log
    wrapper=$(mktemp)
    log=$(mktemp)
    cat >"$wrapper" <<SH
#!/usr/bin/env bash
if [[ " \$* " == *" --crate-name bench_"* ]]; then
    exec valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file=/dev/null --log-file=$log "\$@"
fi
exec "\$@"
SH
    chmod +x "$wrapper"
    forget_crate "$1"
    CARGO_INCREMENTAL=0 RUSTC_WRAPPER=$wrapper cargo build -q --manifest-path "$1/Cargo.toml" >/dev/null 2>&1
    grep 'I *refs' "$log" | awk '{print $NF}'
    rm -f "$wrapper" "$log"
}

results=()
counts=()
for kind in checkpoint serde; do
    dir=$out/$kind
    rm -rf "$dir"
    generate "$kind" "$dir"
    clean=$(seconds cargo build --manifest-path "$dir/Cargo.toml")
    crate=$(min_of_3 fresh_crate_build "$dir")
    incr=$(min_of_3 edit_and_build "$dir")
    results+=("$n structs, derive($kind)|$clean|$crate|$incr")
    if $instructions; then
        counts+=("$n structs, derive($kind): $(count_instructions "$dir") instructions (crate only)")
    fi
done

if $workspace; then
    ws_target=$out/workspace-target
    rm -rf "$ws_target"
    clean=$(seconds env CARGO_TARGET_DIR="$ws_target" cargo build --workspace)
    touch_and_build() { touch checkpoint-derive/src/lib.rs && CARGO_TARGET_DIR="$ws_target" cargo build --workspace; }
    incr=$(min_of_3 touch_and_build)
    results+=("workspace (touch derive lib.rs)|$clean|-|$incr")
fi

echo
echo "rustc: $(rustc --version), $(nproc) cores"
echo "clean: fresh target dir, dependencies included; crate only: the user crate"
echo "rebuilt from scratch with its dependencies built; incremental: after an edit."
echo "crate-only and incremental are the fastest of three runs."
row "build" "clean (s)" "crate (s)" "incr. (s)"
row "--------------------------------" "----------" "----------" "-----------"
num() { if [ "$1" = - ]; then echo -; else printf '%.2f' "$1"; fi; }
for r in "${results[@]}"; do
    IFS='|' read -r what clean crate incr <<<"$r"
    row "$what" "$(num "$clean")" "$(num "$crate")" "$(num "$incr")"
done
for c in "${counts[@]}"; do echo "$c"; done
