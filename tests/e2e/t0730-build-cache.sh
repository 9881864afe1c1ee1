#!/usr/bin/env bash
# t0730-build-cache: a layer whose files are unchanged is reused from the
# cache (docker build's cache, keyed by what lstat says, as git's index),
# never when a file changed or changed too recently to tell; --no-cache
# builds anyway; pushes stage in the cache, mount first, and give the digests
# a fresh build gives; gc drops unused memo records.
. "$(dirname "$0")/../lib.sh"
test_init

registry_start || { test_not_ok "registry starts"; test_done; }
R=$REGISTRY
seed_image library/base:1 || { test_not_ok "seed_image"; test_done; }
BASE=$R/library/base@$SEED_DIGEST
C=$TEST_DIR/cache

memos() { find "$C/.hoist/memo/layers" -type f 2>/dev/null | wc -l; }
reused() { grep -c ': reused' "$ERR"; }
b() { hoist --cache "$C" -v build --base "$BASE" --add ctx/app:/srv/ --add ctx/d:/d "$@"; }

mkdir -p ctx/d/sub
head -c 100000 /dev/urandom >ctx/app
echo one >ctx/d/sub/f
ln ctx/d/sub/f ctx/d/hard
ln -s sub/f ctx/d/link
sleep 2.2	# older than the settle time: their stat can be trusted

# --- reuse ------------------------------------------------------------------
expect_success "first build" b --output cache
d1=$(cat "$OUT")
[[ $(reused) == 0 ]] && test_ok "first build: nothing reused" ||
	test_not_ok "first build: nothing reused" "$(cat "$ERR")"
[[ $(memos) == 2 ]] && test_ok "a memo record per layer" || test_not_ok "a memo record per layer" "$(memos)"
expect_success "second build" b --output cache
[[ $(cat "$OUT") == "$d1" && $(reused) == 2 ]] && test_ok "second build: both layers reused, same digest" ||
	test_not_ok "second build: both layers reused" "$(cat "$OUT") vs $d1; $(cat "$ERR")"
expect_success "into a new layout: reused from the cache" b --output oci:o1
[[ $(cat "$OUT") == "$d1" && $(reused) == 2 ]] && test_ok "the layout gets the same digest" ||
	test_not_ok "the layout gets the same digest" "$(cat "$OUT") vs $d1"
expect_success "the layout is complete (umoci unpack)" umoci unpack --rootless --image o1:latest un1
[[ -f un1/rootfs/srv/app && $(readlink un1/rootfs/d/link) == sub/f ]] &&
	cmp -s ctx/app un1/rootfs/srv/app && test_ok "unpacked files are the inputs" ||
	test_not_ok "unpacked files are the inputs" "$(ls -lR un1/rootfs | head -30)"
expect_success "--no-cache builds anyway" b --no-cache --output oci:o2
[[ $(cat "$OUT") == "$d1" && $(reused) == 0 ]] && test_ok "--no-cache: same digest, nothing reused" ||
	test_not_ok "--no-cache: same digest, nothing reused" "$(cat "$OUT") vs $d1; $(reused) reused"

# --- a change is never missed -------------------------------------------------
# same size, same mtime: only the ctime tells (as for git)
cp -p ctx/app app.orig
head -c 100000 /dev/urandom >ctx/app.new
touch -r ctx/app ctx/app.new
cat ctx/app.new >ctx/app
touch -r ctx/app.new ctx/app
rm ctx/app.new
expect_success "build after a same-size, same-mtime change" b --output cache
d2=$(cat "$OUT")
[[ $d2 != "$d1" && $(reused) == 1 ]] && test_ok "the changed layer is rebuilt, the other reused" ||
	test_not_ok "the changed layer is rebuilt" "$d2 vs $d1; $(reused) reused"
# (under valgrind a build may start more than 2 s after the change)
if [[ ${HOIST_VALGRIND:-} != 1 ]]; then
	n=$(memos)
	[[ $n == 2 ]] && test_ok "a file changed under 2 s ago: no record" ||
		test_not_ok "a file changed under 2 s ago: no record" "$n records"
	expect_success "the same build again at once" b --output cache
	[[ $(cat "$OUT") == "$d2" && $(reused) == 1 ]] &&
		test_ok "still rebuilt while the change is recent" ||
		test_not_ok "still rebuilt while the change is recent" "$(reused) reused"
fi
echo two >ctx/d/sub/new
expect_success "a new file in a directory" b --no-cache --output oci:o3
d3=$(cat "$OUT")
expect_success "build with the new file" b --output oci:o3b
[[ $(cat "$OUT") == "$d3" && $d3 != "$d2" ]] && test_ok "a new file: a new layer" ||
	test_not_ok "a new file: a new layer" "$(cat "$OUT") vs $d3 vs $d2"
expect_success "a mode change" chmod +x ctx/d/sub/f
expect_success "build after chmod" b --output oci:o4
[[ $(cat "$OUT") != "$d3" ]] && test_ok "chmod +x: a new layer" || test_not_ok "chmod +x: a new layer"

# a memo whose blob is gone (gc) is rebuilt, not trusted
sleep 2.2
expect_success "settled build" b --output cache
d5=$(cat "$OUT")
expect_success "reused once settled" b --output cache
[[ $(reused) == 2 && $(cat "$OUT") == "$d5" ]] && test_ok "settled: reused" || test_not_ok "settled: reused" "$(reused)"
# a reused layer counts as used: gc's grace period starts again
find "$C/blobs" "$C/.hoist/memo" -type f -exec touch -d '3 hours ago' {} +
expect_success "reused after 3 hours" b --output cache
[[ $(reused) == 2 ]] && test_ok "old records still reused" || test_not_ok "old records still reused"
expect_success "gc (grace 1h)" hoist --cache "$C" cache gc --grace 1h --json
expect_success "reused after gc" b --output cache
[[ $(reused) == 2 ]] && test_ok "gc kept the layers and records just reused" ||
	test_not_ok "gc kept the layers and records just reused" "$(cat "$ERR")"
sleep 1.1	# gc removes what is older than its grace: a whole second
expect_success "gc (grace 0)" hoist --cache "$C" cache gc --grace 0 --json
jq -e '.memoRecords >= 1' "$OUT" >/dev/null && test_ok "gc drops memo records" ||
	test_not_ok "gc drops memo records" "$(cat "$OUT")"
expect_success "build after gc" b --output oci:o5
[[ $(cat "$OUT") == "$d5" && $(reused) == 0 ]] && test_ok "after gc: rebuilt, same digest" ||
	test_not_ok "after gc: rebuilt, same digest" "$(cat "$OUT") vs $d5; $(reused) reused"

# a torn record is no record
sleep 2.2
expect_success "record again" b --output cache
for f in "$C"/.hoist/memo/layers/*; do head -c 40 "$f" >"$f.t" && mv "$f.t" "$f"; done
expect_success "build over torn records" b --output oci:o6
[[ $(cat "$OUT") == "$d5" && $(reused) == 0 ]] && test_ok "torn records: rebuilt, same digest" ||
	test_not_ok "torn records: rebuilt" "$(reused) reused"

# --- later layers are built ahead, on a thread of their own ---------------------
ahead() { hoist --cache "$C" build --no-cache --add ctx/app:/a --add ctx/d:/d --add ctx/app:/c "$@"; }
expect_success "three layers" ahead --output oci:o7
d7=$(cat "$OUT")
expect_success "three layers again" ahead --output oci:o8
[[ $(cat "$OUT") == "$d7" ]] && test_ok "built ahead: the same digest every time" ||
	test_not_ok "built ahead: the same digest every time" "$(cat "$OUT") vs $d7"
expect_success "the layout is valid (umoci)" umoci stat --image o7:latest
expect_code 1 "a missing source in a later layer" hoist --cache "$C" build --add ctx/app:/a \
	--add nothere:/b --add ctx/app:/c --output oci:o9
grep -q "'hoist build --add nothere:/b': 'nothere' does not exist" "$ERR" &&
	test_ok "the error names that step" || test_not_ok "the error names that step" "$(cat "$ERR")"

# --- push: staged in the cache, mounted first ---------------------------------
sleep 2.2
bp() { b -t "$1"; }
expect_success "push" bp "$R/apps/a:1"
dp1=$(sed 's/.*@//' "$OUT")
[[ -z $(ls -A "$TMPDIR" 2>/dev/null) ]] && test_ok "no scratch directory left" ||
	test_not_ok "no scratch directory left" "$(ls -A "$TMPDIR")"
before=$(blob_writes "$REGISTRY_LOG")
heads=$(grep -c '"HEAD /v2/apps/b/blobs/' "$REGISTRY_LOG")
expect_success "push to another repository" bp "$R/apps/b:1"
dp2=$(sed 's/.*@//' "$OUT")
[[ $dp1 == "$dp2" && $(reused) == 2 ]] && test_ok "same digest, layers reused" ||
	test_not_ok "same digest, layers reused" "$dp1 vs $dp2; $(reused)"
nm=$(grep -c '"POST /v2/apps/b/blobs/uploads/?mount=' "$REGISTRY_LOG")
nh=$(( $(grep -c '"HEAD /v2/apps/b/blobs/' "$REGISTRY_LOG") - heads ))
up=$(grep -cE '"(PATCH|PUT) /v2/apps/b/blobs/' "$REGISTRY_LOG")
[[ $nm -ge 4 && $nh == 0 && $up == 0 ]] && test_ok "every blob mounted, no HEAD first, nothing uploaded" ||
	test_not_ok "every blob mounted" "$nm mounts, $nh HEADs, $up uploads"
expect_success "skopeo inspect the pushed image" skopeo inspect --tls-verify=false "docker://$R/apps/b:1"
# the digest a build with an empty cache pushes is the same
expect_success "push from an empty cache" hoist --cache "$TEST_DIR/fresh" build \
	--base "$BASE" --add ctx/app:/srv/ --add ctx/d:/d --no-cache -t "$R/apps/c:1"
[[ $(sed 's/.*@//' "$OUT") == "$dp1" ]] && test_ok "a fresh cache pushes the same digest" ||
	test_not_ok "a fresh cache pushes the same digest" "$(cat "$OUT") vs $dp1"
# a mount the registry answers with an upload session: the blob is there
# already (pushed above), so the HEAD finds it and the session is cancelled
expect_success "push again to the same tag" bp "$R/apps/b:1"
[[ $(sed 's/.*@//' "$OUT") == "$dp1" ]] && test_ok "re-push: same digest" || test_not_ok "re-push: same digest"
test_done
