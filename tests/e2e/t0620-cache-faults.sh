#!/usr/bin/env bash
# t0620-cache-faults: gc and verify never turn an I/O error into deleted data
# (issue 24).  File-system faults are injected with tests/tools/faultfs.so
# (lib.sh's `faultfs`): a manifest read failing with EIO or EACCES, a
# directory listing failing, ENOSPC on writes.  Every fault must stop the
# command with exit 1 and a message naming what failed, its errno and what to
# do, and leave index.json byte-identical and every blob in place.  Also:
# blob files that are symbolic links (or directories, or fifos) are refused
# by every reader and never uploaded; a cache without its oci-layout file is
# "damaged", not empty.
. "$(dirname "$0")/../lib.sh"
test_init
export HOIST_RETRY_BASE_MS=10

LT=$TOOLS/layout-tool
C=$TEST_DIR/cache
A=docker.io/library/alpha:1
B=docker.io/library/beta:1
h() { hoist --cache "$C" "$@"; }
old() { find "$1/blobs" "$1/.hoist/refs" -type f -exec touch -d '2 hours ago' {} +; }
blobs() { ls "$1/blobs/sha256" | sort; }
# snap DIR: remembers DIR's index.json and blob list; same DIR DESC: checks both
snap() { cp "$1/index.json" "$TEST_DIR/index.snap"; blobs "$1" >"$TEST_DIR/blobs.snap"; }
same() {
	compare "$2: index.json byte-identical" "$TEST_DIR/index.snap" "$1/index.json"
	blobs "$1" >"$TEST_DIR/blobs.now"
	compare "$2: every blob still there" "$TEST_DIR/blobs.snap" "$TEST_DIR/blobs.now"
}
# err_has DESC REGEX...: stderr of the last command matches every REGEX
# (out_has: its stdout)
err_has() { _has "$ERR" "$@"; }
out_has() { _has "$OUT" "$@"; }
_has() {
	local file=$1 desc=$2 re
	shift 2
	for re in "$@"; do
		grep -qE -- "$re" "$file" || { test_not_ok "$desc" "no /$re/ in:" "$(cat "$file")"; return 1; }
	done
	test_ok "$desc"
}
# fired DESC: the last faultfs command did inject its fault
fired() {
	[[ -s $TEST_DIR/.lib/faultfs.log ]] && test_ok "$1: the fault was injected" ||
		test_not_ok "$1: the fault was injected" "nothing in faultfs.log"
}

expect_success "write alpha (3 layers)" "$LT" write-image "$C" "$A" --layers 3 --seed 1
expect_success "write beta sharing a layer" "$LT" write-image "$C" "$B" --layers 2 --seed 2 \
	--share-from 1
MA=$(jq -r --arg n "$A" '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $n) | .digest' "$C/index.json")
old "$C"

# --- a manifest that cannot be read stops gc and prune ------------------------------
snap "$C"
expect_code 1 "gc: EIO reading a manifest" faultfs read "${MA#sha256:}" EIO h cache gc --grace 0s
err_has "gc: names the manifest, the errno and what to do" "$MA" "Input/output error" \
	"nothing was removed" "check"
fired "gc EIO"
same "$C" "gc EIO"
expect_code 1 "gc: EACCES opening a manifest" faultfs open "${MA#sha256:}" EACCES h cache gc --grace 0s
err_has "gc: EACCES is named, with the permissions to check" "$MA" "Permission denied" "permissions"
same "$C" "gc EACCES"
expect_code 1 "prune: EIO reading a manifest" faultfs read "${MA#sha256:}" EIO \
	h cache prune --keep-last 1 --grace 0s
err_has "prune: names the manifest and the errno" "$MA" "Input/output error"
same "$C" "prune EIO"
expect_code 1 "rm: EIO reading a manifest" faultfs read "${MA#sha256:}" EIO \
	h cache rm --grace 0s "$B"
err_has "rm: names the manifest and the errno" "$MA" "Input/output error"
[[ $(jq '.manifests | length' "$C/index.json") == 1 ]] &&
	test_ok "rm: beta's entry went, alpha's stays" ||
	test_not_ok "rm: beta's entry went, alpha's stays" "$(cat "$C/index.json")"
# beta's own blobs are unreachable now; put it back for what follows
expect_success "write beta again" "$LT" write-image "$C" "$B" --layers 2 --seed 2 --share-from 1
old "$C"

# a referrer (an unreachable manifest whose subject is alpha) that cannot be read
sz=$(stat -c %s "$C/blobs/sha256/${MA#sha256:}")
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","artifactType":"application/vnd.example.sig","config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[],"subject":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"%s","size":%s}}' \
	"$MA" "$sz" >sig.json
SIG=$(sha256sum sig.json | cut -d' ' -f1)
cp sig.json "$C/blobs/sha256/$SIG"
touch -d '2 hours ago' "$C/blobs/sha256/$SIG"
snap "$C"
expect_code 1 "gc: EIO reading a possible referrer" faultfs read "$SIG" EIO h cache gc --grace 0s
err_has "gc: names the referrer and the errno" "sha256:$SIG" "Input/output error"
same "$C" "gc referrer EIO"
expect_success "gc without the fault keeps the referrer" h cache gc --grace 0s
[[ -f $C/blobs/sha256/$SIG ]] && test_ok "the referrer is kept" || test_not_ok "the referrer is kept"

# --- directory listings that fail -------------------------------------------------------
snap "$C"
for cmd in "cache gc --grace 0s" "cache prune --all --grace 0s" "cache ls" "cache verify" \
	"cache verify --repair"; do
	# shellcheck disable=SC2086
	expect_code 1 "$cmd: listing blobs/ fails" faultfs readdir blobs/sha256 EIO h $cmd
	err_has "$cmd: says which listing failed, why and what to do" \
		"cannot list '.*blobs/sha256'" "Input/output error" "check"
	same "$C" "$cmd, listing fails"
done
# a listing that fails part way (the entries read so far are not all there is)
expect_code 1 "verify --repair: listing fails after 3 entries" \
	faultfs --after 3 readdir blobs/sha256 EIO h cache verify --repair
fired "verify --repair, late listing fault"
same "$C" "verify --repair, late listing fault"
for d in .hoist/ingest .hoist/refs; do
	expect_code 1 "gc: listing $d fails" faultfs readdir "$d" EIO h cache gc --grace 0s
	err_has "gc: names $d" "cannot list '.*$d'" "Input/output error"
done
mkdir -p "$C/.hoist/memo/layer"
expect_code 1 "gc: listing .hoist/memo fails" faultfs readdir .hoist/memo EIO h cache gc --grace 0s
err_has "gc: names .hoist/memo" "cannot list '.*\.hoist/memo" "Input/output error"
expect_success "verify is clean after all that" h cache verify

# --- a cache without its oci-layout file is damaged, not empty ----------------------------
N=$TEST_DIR/never-used
expect_success "ls of a cache never used" hoist --cache "$N" cache ls
err_has "says there is no cache there" "no cache at '$N'"
expect_output "prints nothing" "" cat "$OUT"
mkdir -p "$N"
expect_success "gc of an empty cache directory" hoist --cache "$N" cache gc
err_has "gc says there is no cache there" "no cache at '$N'"
expect_success "verify of a cache never used" hoist --cache "$N" cache verify
mv "$C/oci-layout" "$TEST_DIR/oci-layout.saved"
snap "$C"
for cmd in "cache ls" "cache gc --grace 0s" "cache prune --all --grace 0s" "cache verify"; do
	# shellcheck disable=SC2086
	expect_code 1 "$cmd: a cache without oci-layout" h $cmd
	err_has "$cmd: says it is damaged and how to repair it" "damaged" "oci-layout" \
		"hoist cache verify --repair"
done
same "$C" "damaged cache"
expect_success "verify --repair recreates oci-layout" h cache verify --repair
expect_output "oci-layout is back" '1.0.0' jq -r .imageLayoutVersion "$C/oci-layout"
expect_output "both images are listed again" "2" sh -c "'$HOIST' --cache '$C' cache ls --json | jq '.entries | length'"
same "$C" "repaired cache"

# --- blob files that are links, directories or fifos ----------------------------------------
L=$TEST_DIR/lay
expect_success "write an image into a layout" "$LT" write-image "$L" "$A" --layers 2 --seed 3
LM=$(jq -r '.manifests[0].digest' "$L/index.json")
LL=$(jq -r '.layers[0].digest' "$L/blobs/sha256/${LM#sha256:}")
LC=$(jq -r '.config.digest' "$L/blobs/sha256/${LM#sha256:}")
expect_success "validate --layout of the good layout" hoist validate --layout "$L"
registry_start || { test_not_ok "registry starts"; test_done; }
R=$REGISTRY
cp "$L/blobs/sha256/${LL#sha256:}" "$TEST_DIR/outside-layer"
ln -sf "$TEST_DIR/outside-layer" "$L/blobs/sha256/${LL#sha256:}"
expect_code 1 "validate --layout: a layer that links outside" hoist validate --layout "$L"
out_has "validate names the link" "${LL#sha256:}" "symbolic link"
before=$(blob_writes "$REGISTRY_LOG")
expect_code 1 "push: a layer that links outside" hoist push "$L" "$R/linked/img:1"
err_has "push names the link and what to do" "blobs/sha256/${LL#sha256:}" "symbolic link"
after=$(blob_writes "$REGISTRY_LOG")
((after == before)) && test_ok "push uploaded nothing" ||
	test_not_ok "push uploaded nothing" "$before -> $after blob writes" "$(tail -n 5 "$REGISTRY_LOG")"
grep -q "${LL#sha256:}" "$REGISTRY_LOG" &&
	test_not_ok "the registry never saw the linked blob" "$(grep "${LL#sha256:}" "$REGISTRY_LOG")" ||
	test_ok "the registry never saw the linked blob"
# a link to a file inside the layout (the config, by a relative name)
rm "$L/blobs/sha256/${LL#sha256:}"
cp "$TEST_DIR/outside-layer" "$L/layer-copy"
ln -s ../../layer-copy "$L/blobs/sha256/${LL#sha256:}"
expect_code 1 "push: a layer that links inside the layout" hoist push "$L" "$R/linked/img:2"
err_has "push names the link" "${LL#sha256:}" "symbolic link"
expect_code 1 "validate --layout: a link inside the layout" hoist validate --layout "$L"
out_has "validate names it" "${LL#sha256:}" "symbolic link"
# a manifest that is a link: gc of that layout keeps everything
cp "$L/blobs/sha256/${LM#sha256:}" "$L/manifest-copy"
rm "$L/blobs/sha256/${LM#sha256:}"
ln -s ../../manifest-copy "$L/blobs/sha256/${LM#sha256:}"
old "$L"
snap "$L"
expect_code 1 "gc: a manifest that is a link" hoist --cache "$L" cache gc --grace 0s
err_has "gc names it" "${LM#sha256:}" "symbolic link"
same "$L" "gc of a layout with a linked manifest"
expect_code 1 "export from a cache whose manifest is a link" \
	hoist --offline --cache "$L" export "$A" "$TEST_DIR/x.tar"
err_has "export names it" "${LM#sha256:}" "symbolic link"
# a config that is a directory, a layer that is a fifo
L2=$TEST_DIR/lay2
expect_success "write a second layout" "$LT" write-image "$L2" "$A" --layers 2 --seed 4
M2=$(jq -r '.manifests[0].digest' "$L2/index.json")
C2=$(jq -r '.config.digest' "$L2/blobs/sha256/${M2#sha256:}")
F2=$(jq -r '.layers[1].digest' "$L2/blobs/sha256/${M2#sha256:}")
rm "$L2/blobs/sha256/${F2#sha256:}"
mkfifo "$L2/blobs/sha256/${F2#sha256:}"
expect_code 1 "push: a layer that is a fifo (no hang)" timeout 60 "$HOIST" push "$L2" "$R/fifo/img:1"
err_has "push names the fifo" "${F2#sha256:}" "not a regular file"
expect_code 1 "validate --layout: a fifo (no hang)" timeout 60 "$HOIST" validate --layout "$L2"
out_has "validate names it" "${F2#sha256:}" "not a regular file"
rm "$L2/blobs/sha256/${C2#sha256:}"
mkdir "$L2/blobs/sha256/${C2#sha256:}"
expect_code 1 "export: a config that is a directory" \
	timeout 60 "$HOIST" --offline --cache "$L2" export "$A" "$TEST_DIR/y.tar"
err_has "export names it" "${C2#sha256:}" "not a regular file"

# --- a corrupt blob is pushed: the registry's digest check is final ---------------------------
L3=$TEST_DIR/lay3
expect_success "write a third layout" "$LT" write-image "$L3" "$A" --layers 1 --seed 5
M3=$(jq -r '.manifests[0].digest' "$L3/index.json")
B3=$(jq -r '.layers[0].digest' "$L3/blobs/sha256/${M3#sha256:}")
f=$L3/blobs/sha256/${B3#sha256:}
chmod u+w "$f"
printf 'X' | dd of="$f" bs=1 seek=100 conv=notrunc status=none
expect_code 1 "push of a corrupt layer" hoist push "$L3" "$R/corrupt/img:1"
err_has "it says the source is corrupt and how to check it" "corrupt" "hoist validate"
grep -qi "retry" "$ERR" && test_not_ok "it does not say to retry" "$(cat "$ERR")" ||
	test_ok "it does not say to retry"

# --- ENOSPC ---------------------------------------------------------------------------------
seed_image library/hello:1 || test_not_ok "seed an image"
P=$TEST_DIR/pcache
expect_code 1 "pull into the cache on a full disk" \
	faultfs write /.hoist/ingest/ ENOSPC hoist --cache "$P" pull "$R/library/hello:1"
err_has "pull: says the disk is full and what to do" "No space left on device" \
	"free space" "hoist cache gc"
fired "pull ENOSPC"
expect_output "pull: the cache names no image" "0" jq '.manifests | length' "$P/index.json"
snap "$C"
expect_code 1 "prune on a full disk" faultfs write index.json.tmp ENOSPC \
	h cache prune --all --grace 0s
err_has "prune points to gc, which needs no space" "No space left on device" "hoist cache gc"
same "$C" "prune on a full disk"
expect_success "gc works on a full disk" faultfs write "" ENOSPC h cache gc --grace 0s

test_done
