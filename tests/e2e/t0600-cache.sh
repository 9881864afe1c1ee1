#!/usr/bin/env bash
# t0600-cache: hoist cache ls, gc, prune, rm and verify on caches written by
# layout-tool (standing in for pull) and by skopeo; gc keeps shared and
# metadata blobs, removes only the unreachable, respects the grace period
# and live writers' temporary files.
. "$(dirname "$0")/../lib.sh"
test_init

LT=$TOOLS/layout-tool
C=$TEST_DIR/cache
A=docker.io/library/alpha:1
B=docker.io/library/beta:1
D=example.com/team/delta:2
M=docker.io/library/meta:1
h() { hoist --cache "$C" "$@"; }
nblobs() { ls "$1/blobs/sha256" | wc -l; }
# old DIR: every blob and usage record of the cache written two hours ago
old() { find "$1/blobs" "$1/.hoist/refs" -type f -exec touch -d '2 hours ago' {} +; }
record() { echo "$C/.hoist/refs/$(printf %s "$1" | sha256sum | cut -d' ' -f1).json"; }
used() { touch -d "$2" "$(record "$1")"; }
refs() { h cache ls --json | jq -r '.entries[].ref' | sort | tr '\n' ' '; }

# --- an empty or missing cache -----------------------------------------
expect_success "ls of a missing cache" h cache ls
expect_success "gc of a missing cache" h cache gc
expect_code 1 "rm from a missing cache fails" h cache rm "$A"
expect_code 2 "prune without a policy is a usage error" h cache prune
expect_code 2 "a bad duration is a usage error" h cache gc --grace 1x
expect_code 2 "a bad size is a usage error" h cache prune --max-size 10Q
expect_code 2 "a bad filter is a usage error" h cache prune --all --filter name=x
expect_code 2 "an unknown sub-command" h cache frob

# --- ls ---------------------------------------------------------------------
expect_success "write alpha (3 layers)" "$LT" write-image "$C" "$A" --layers 3 --seed 1
expect_success "write beta sharing alpha's layer 0" "$LT" write-image "$C" "$B" --layers 2 \
	--seed 2 --share-from 1
expect_success "write a metadata-only entry" "$LT" write-image "$C" "$M" --layers 2 --seed 4 --meta
DM=$(cat "$OUT")
expect_success "cache ls" h cache ls
grep -q "^docker.io/library/alpha:1 .* image  present .*linux/amd64" "$OUT" &&
	test_ok "ls shows alpha as a complete linux/amd64 image" ||
	test_not_ok "ls shows alpha as a complete linux/amd64 image" "$(cat "$OUT")"
grep -q "^docker.io/library/meta:1 .* metadata " "$OUT" && test_ok "ls marks metadata entries" ||
	test_not_ok "ls marks metadata entries" "$(cat "$OUT")"
grep -qE "^3 entries, [0-9]+ blobs, .* on disk, 0 B reclaimable by gc$" "$ERR" &&
	test_ok "ls summary on stderr" || test_not_ok "ls summary on stderr" "$(cat "$ERR")"
expect_success "cache ls --json" h cache ls --json
expect_output "alpha shares one layer with beta" "true" \
	jq '.entries[] | select(.ref == "docker.io/library/alpha:1") | .sharedSize > 0' "$OUT"
expect_output "meta-index.json is not index.json" "$DM" \
	jq -r '.manifests[0].digest' "$C/.hoist/meta-index.json"
expect_output "index.json holds only complete images" "2" jq '.manifests | length' "$C/index.json"
expect_success "-q silences the summary" h -q cache ls
[[ ! -s $ERR ]] && test_ok "-q: nothing on stderr" || test_not_ok "-q: nothing on stderr"

# --- gc: reachable, shared and metadata blobs stay ---------------------------
n0=$(nblobs "$C")
expect_success "gc --grace 0 on a clean cache" h cache gc --grace 0
expect_output "it removes nothing" "" cat "$OUT"
expect_output "blob count unchanged" "$n0" nblobs "$C"
expect_success "moving alpha to another image" "$LT" write-image "$C" "$A" --layers 1 --seed 3
expect_success "gc within the grace period" h cache gc
grep -q "kept .* and [1-9][0-9]* recent unreachable" "$ERR" && test_ok "the summary says why" ||
	test_not_ok "the summary says why" "$(cat "$ERR")"
expect_output "fresh unreachable blobs are kept" "" cat "$OUT"
expect_success "gc --dry-run --grace 0" h cache gc --dry-run --grace 0
would=$(grep -c '^would remove ' "$OUT")
expect_output "dry run changes nothing" "$((n0 + 3))" nblobs "$C"
old "$C"
expect_success "gc once the blobs are old" h cache gc --json
cp "$OUT" gc.json
expect_output "it removes what the dry run listed" "$would" jq '.removed | length' gc.json
# alpha's old layers 1, 2, config and manifest go; layer 0 stays for beta
expect_output "four blobs removed" "4" jq '.removed | length' gc.json
expect_output "bytes freed reported" "true" jq '.bytesFreed > 0' gc.json
expect_success "skopeo reads beta (shared layer kept)" skopeo inspect "oci:$C:$B"
expect_success "skopeo reads the new alpha" skopeo inspect "oci:$C:$A"
expect_success "verify is clean after gc" h cache verify
expect_output "the metadata entry's manifest is kept" "1" \
	sh -c "ls '$C/blobs/sha256' | grep -c '^${DM#sha256:}\$'"

# --- temporary files of dead and live writers -----------------------------------
echo partial >"$C/.hoist/ingest/blob-99999-0-dead"
echo partial >"$C/.hoist/ingest/blob-99999-1-live"
flock "$C/.hoist/ingest/blob-99999-1-live" sleep 30 &
holder=$!
at_exit "kill $holder"
sleep 0.2
expect_success "gc with a dead and a live temporary file" h cache gc --json
cp "$OUT" gc.json
expect_output "one temporary file removed" "1" jq .tempFiles gc.json
expect_output "the live writer's file is kept" "blob-99999-1-live" ls "$C/.hoist/ingest"
kill "$holder" 2>/dev/null; wait "$holder" 2>/dev/null

# --- a lease blocks gc; --wait bounds the wait ------------------------------------
flock -s "$C/.hoist/gc.lock" sleep 30 &
holder=$!
at_exit "kill $holder"
sleep 0.2
expect_code 1 "gc gives up after --wait while a writer holds a lease" h cache gc --wait 1s
grep -q "writers hold leases" "$ERR" && test_ok "it says why" || test_not_ok "it says why" "$(cat "$ERR")"
kill "$holder" 2>/dev/null; wait "$holder" 2>/dev/null

# --- prune ----------------------------------------------------------------------------
expect_success "write delta" "$LT" write-image "$C" "$D" --layers 2 --seed 5
used "$A" '5 days ago'
used "$B" '3 days ago'
used "$M" '1 day ago'
used "$D" '1 hour ago'
expect_success "prune --older-than 2d --dry-run" h cache prune --older-than 2d --dry-run
expect_output "dry run names alpha and beta" "would drop $A
would drop $B" sh -c "grep '^would drop' '$OUT' | cut -d' ' -f1-3"
expect_output "dry run drops nothing" "$A $B $M $D " refs
expect_success "prune --older-than 2d --grace 0" h cache prune --older-than 2d --grace 0
expect_output "alpha and beta dropped" "$M $D " refs
expect_output "their usage records are gone" "" \
	sh -c "ls '$(record "$A")' '$(record "$B")' 2>/dev/null; true"
expect_success "verify after prune" h cache verify
expect_success "write alpha and beta again" sh -c \
	"'$LT' write-image '$C' '$A' --seed 1 && '$LT' write-image '$C' '$B' --seed 2"
used "$A" '4 days ago'
used "$B" '3 days ago'
used "$M" '5 days ago'
used "$D" '1 day ago'
expect_success "prune --keep-last 2" h cache prune --keep-last 2 --grace 0
expect_output "the two most recently used stay" "$B $D " refs
expect_success "write alpha again" "$LT" write-image "$C" "$A" --seed 1 --layers 3
used "$A" '3 days ago'
used "$B" '2 days ago'
size=$(h -q cache ls --json | jq '[.entries[] | select(.ref != "'"$A"'") | .uniqueSize + .sharedSize] | add')
expect_success "prune --max-size to fit all but the least recently used" \
	h cache prune --max-size "$size" --grace 0
expect_output "only alpha (least recently used) dropped" "$B $D " refs
used "$B" '3 days ago'
expect_success "prune --max-size 0 --filter ref=example.com/*" \
	h cache prune --max-size 0 --filter 'ref=example.com/*' --grace 0
expect_output "only the filtered entries are considered" "$B " refs
expect_success "prune --all --json" h cache prune --all --grace 0 --json
cp "$OUT" prune.json
expect_output "it reports the entry dropped" "$B" jq -r '.dropped[0].ref' prune.json
expect_output "the cache is empty" "" refs
expect_output "no blobs are left" "0" nblobs "$C"

# --- rm -----------------------------------------------------------------------------
expect_success "write alpha and beta" sh -c \
	"'$LT' write-image '$C' '$A' --seed 1 && '$LT' write-image '$C' '$B' --seed 2 --share-from 1"
expect_success "rm by a short name" h cache rm --grace 0 alpha:1
expect_output "alpha dropped, beta kept" "$B " refs
expect_success "beta still complete" skopeo inspect "oci:$C:$B"
expect_code 1 "rm of an image not cached fails" h cache rm nope:1
grep -q "no image named 'docker.io/library/nope:1'" "$ERR" && test_ok "rm names it" ||
	test_not_ok "rm names it" "$(cat "$ERR")"

# --- verify ---------------------------------------------------------------------------
layer=$(jq -r '.layers[0].digest' "$C/blobs/sha256/$(jq -r '.manifests[0].digest' "$C/index.json" | cut -d: -f2)")
chmod u+w "$C/blobs/sha256/${layer#sha256:}"
echo corrupt >>"$C/blobs/sha256/${layer#sha256:}"
expect_code 1 "verify finds the corrupt layer" h cache verify
expect_output "it names it" "corrupt - $layer" grep '^corrupt' "$OUT"
expect_success "verify --repair" h cache verify --repair
grep -q "^moved $B " "$OUT" && test_ok "beta moves to the metadata index" ||
	test_not_ok "beta moves to the metadata index" "$(cat "$OUT")"
expect_output "ls shows beta as metadata only" "metadata" \
	sh -c "'$HOIST' --cache '$C' cache ls --json | jq -r '.entries[0].layers'"
expect_success "verify is clean after the repair" h cache verify

# --- a layout written by skopeo is a valid cache ------------------------------------
expect_success "layout-tool image for skopeo" "$LT" write-image src "$A" --layers 3 --seed 7
expect_success "skopeo copy into a new layout" skopeo copy "oci:src:$A" "oci:$TEST_DIR/sk:$A"
n=$(nblobs sk)
expect_success "ls of skopeo's layout" hoist --cache sk cache ls --json
cp "$OUT" ls.json
expect_output "one complete entry" "present" jq -r '.entries[0].layers' ls.json
expect_success "gc of skopeo's layout" hoist --cache sk cache gc --grace 0
expect_output "keeps every blob" "$n" nblobs sk
expect_success "verify of skopeo's layout" hoist --cache sk cache verify
expect_success "skopeo still reads it" skopeo inspect "oci:sk:$A"

test_done
