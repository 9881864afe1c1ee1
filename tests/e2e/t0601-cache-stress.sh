#!/usr/bin/env bash
# t0601-cache-stress: writers fill one cache while gc (grace 0) and prune
# loop, for a bounded time (HOIST_STRESS_SECONDS, default 12): `hoist pull`
# and `hoist build --output cache` from a real registry, and layout-tool
# (which holds a lease from its first blob to its index entry, as they do).
# Afterwards every entry is complete: skopeo inspects each, umoci unpacks
# one, and hoist cache verify is clean.  Writers are also SIGKILLed
# mid-write; what they leave must not block or break anything.
. "$(dirname "$0")/../lib.sh"
test_init

LT=$TOOLS/layout-tool
C=$TEST_DIR/cache
SECS=${HOIST_STRESS_SECONDS:-12}
ROOTLESS=
(($(id -u) == 0)) || ROOTLESS=--rootless
end=$((SECONDS + SECS))

writer() { # ID
	local i=0
	while ((SECONDS < end)); do
		"$LT" write-image "$C" "example.com/w$1/img:$((i % 4))" --layers 3 \
			--seed $((($1 * 1000 + i) % 7 + 1)) --share-from $((i % 3 + 1)) \
			>/dev/null 2>>"writer-$1.err" || echo "write failed" >>"writer-$1.fail"
		i=$((i + 1))
	done
}
killer() { # kills writers mid-write
	while ((SECONDS < end)); do
		"$LT" write-image "$C" example.com/killed/img:1 --layers 8 --seed 9 >/dev/null 2>&1 &
		sleep 0.0$((RANDOM % 9 + 1))
		kill -KILL $! 2>/dev/null
		wait $! 2>/dev/null
	done
}
gcloop() {
	local n=0
	while ((SECONDS < end)); do
		"$HOIST" -q --cache "$C" cache gc --grace 0 >/dev/null 2>>gc.err || echo fail >>gc.fail
		n=$((n + 1))
	done
	echo "$n" >gc.count
}
pruneloop() {
	local n=0
	while ((SECONDS < end)); do
		"$HOIST" -q --cache "$C" cache prune --keep-last 6 --grace 0 >/dev/null \
			2>>prune.err || echo fail >>prune.fail
		n=$((n + 1))
		sleep 0.1
	done
	echo "$n" >prune.count
}

puller() {
	local i=0
	while ((SECONDS < end)); do
		"$HOIST" -q --cache "$C" pull "$REG/library/app$((i % 3 + 1)):1" >/dev/null \
			2>>pull.err || echo fail >>pull.fail
		i=$((i + 1))
	done
	echo "$i" >pull.count
}
builder() {
	local i=0
	mkdir -p ctx
	while ((SECONDS < end)); do
		echo "build $i" >"ctx/f$i"
		"$HOIST" -q --cache "$C" build --base "$REG/library/app$((i % 3 + 1)):1" \
			--add "ctx/f$i:/srv/f" --output cache -t "$REG/library/built$((i % 3)):1" \
			>/dev/null 2>>build.err || echo fail >>build.fail
		i=$((i + 1))
	done
	echo "$i" >build.count
}

registry_start >/dev/null
REG=$REGISTRY
for n in 1 2 3; do seed_image --content "app $n" "library/app$n:1" >/dev/null; done
"$LT" write-image "$C" example.com/seed/img:1 --layers 1 >/dev/null
pids=()
puller & pids+=($!)
builder & pids+=($!)
for w in 1 2 3; do writer "$w" & pids+=($!); done
killer & pids+=($!)
gcloop & pids+=($!)
pruneloop & pids+=($!)
for p in "${pids[@]}"; do wait "$p"; done

[[ ! -e writer-1.fail && ! -e writer-2.fail && ! -e writer-3.fail ]] &&
	test_ok "every writer succeeded" ||
	test_not_ok "every writer succeeded" "$(cat writer-*.err 2>/dev/null | sort | uniq -c | head)"
[[ ! -e pull.fail ]] && test_ok "every hoist pull succeeded ($(cat pull.count) runs)" ||
	test_not_ok "every hoist pull succeeded" "$(sort pull.err | uniq -c | head)"
[[ ! -e build.fail ]] && test_ok "every hoist build succeeded ($(cat build.count) runs)" ||
	test_not_ok "every hoist build succeeded" "$(sort build.err | uniq -c | head)"
[[ ! -e gc.fail ]] && test_ok "every gc succeeded ($(cat gc.count) runs)" ||
	test_not_ok "every gc succeeded" "$(sort gc.err | uniq -c | head)"
[[ ! -e prune.fail ]] && test_ok "every prune succeeded ($(cat prune.count) runs)" ||
	test_not_ok "every prune succeeded" "$(sort prune.err | uniq -c | head)"

mapfile -t refs < <(jq -r '.manifests[].annotations["org.opencontainers.image.ref.name"]' "$C/index.json")
((${#refs[@]} > 0)) && test_ok "entries left: ${#refs[@]}" || test_not_ok "entries left"
bad=
for r in "${refs[@]}"; do
	skopeo inspect "oci:$C:$r" >/dev/null 2>&1 || bad+=" $r"
	# the entry's own manifest, then what it references
	jq -r --arg r "$r" '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $r) | .digest' \
		"$C/index.json" | while read -r d; do [[ -f $C/blobs/sha256/${d#sha256:} ]] || echo "missing $d ($r)"; done \
		>>missing.txt
	skopeo inspect --raw "oci:$C:$r" | jq -r '.config.digest, .layers[].digest' |
		while read -r d; do [[ -f $C/blobs/sha256/${d#sha256:} ]] || echo "missing $d"; done \
		>>missing.txt
done
[[ -z $bad ]] && test_ok "skopeo inspects every entry" || test_not_ok "skopeo inspects every entry" "$bad"
expect_output "every blob of every entry is present" "" cat missing.txt
expect_success "umoci unpacks one" umoci unpack $ROOTLESS --image "$C:${refs[0]}" bundle
expect_success "hoist cache verify is clean" hoist --cache "$C" cache verify
expect_success "a final gc cleans up after the killed writers" hoist --cache "$C" cache gc --grace 0
expect_output "no temporary files are left" "" ls -A "$C/.hoist/ingest"
expect_success "verify after the final gc" hoist --cache "$C" cache verify

test_done
