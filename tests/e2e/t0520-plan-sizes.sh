#!/usr/bin/env bash
# t0520-plan-sizes: push --index and copy transfer each blob once, but every
# descriptor of it must give its true size: a second image whose descriptor
# of a shared layer has another size, or an index whose descriptor of a
# manifest has a wrong size, is refused before anything is sent, with the
# blob (or manifest) and the sizes named, so no registry ever holds an index
# that skopeo then fails to pull ("size mismatch").
. "$(dirname "$0")/../lib.sh"
test_init
LT=$TOOLS/layout-tool
RT=$TOOLS/reg-tool

registry_start || { test_not_ok "registry starts"; test_done; }
R=$REGISTRY
LOG=$REGISTRY_LOG
registry_start --name two || { test_not_ok "second registry starts"; test_done; }
R2=$REGISTRY_two

# put LAYOUT FILE: FILE as a blob of LAYOUT, prints its digest
put() {
	local d
	d=sha256:$(sha256sum "$2" | cut -c1-64)
	cp "$2" "$1/blobs/sha256/${d#sha256:}" && echo "$d"
}
# entry LAYOUT N DIGEST SIZE: points index.json's entry N at DIGEST
entry() {
	jq -c --argjson n "$2" --arg d "$3" --argjson s "$4" \
		'.manifests[$n].digest = $d | .manifests[$n].size = $s' "$1/index.json" >idx.tmp &&
		mv idx.tmp "$1/index.json"
}
# published LOG REPO: the manifest and blob writes LOG shows for REPO
published() { grep -cE "\"(PUT|PATCH|POST) /v2/$2/(manifests|blobs)/" "$1" || :; }

# Two images sharing layer 0 ("good"), then b's descriptor of it one byte
# longer ("bad").
"$LT" write-image good a --seed 1 >/dev/null && "$LT" write-image good b --seed 2 --share-from 1 \
	>/dev/null || { test_not_ok "layout-tool writes the images"; test_done; }
ma=$(jq -r '.manifests[0].digest' good/index.json)
mb=$(jq -r '.manifests[1].digest' good/index.json)
shared=$(jq -r '.layers[0].digest' "good/blobs/sha256/${ma#sha256:}")
size=$(jq -r '.layers[0].size' "good/blobs/sha256/${ma#sha256:}")
[[ $(jq -r '.layers[0].digest' "good/blobs/sha256/${mb#sha256:}") == "$shared" ]] &&
	test_ok "the images share a layer" || test_not_ok "the images share a layer"
cp -r good bad
jq -c '.layers[0].size += 1' "bad/blobs/sha256/${mb#sha256:}" >b.json
mbad=$(put bad b.json)
entry bad 1 "$mbad" "$(stat -c %s b.json)"

expect_success "push --index of the good layout" hoist push --index good "$R/good/idx:1"

# --- push --index ------------------------------------------------------------------
# says_sizes DESC: $ERR names the shared blob and both sizes
says_sizes() {
	grep -q "$shared" "$ERR" && grep -qw "$size" "$ERR" && grep -qw "$((size + 1))" "$ERR" &&
		test_ok "$1" || test_not_ok "$1" "$(cat "$ERR")"
}
expect_code 1 "push --index: a layer listed with two sizes" hoist push --index bad "$R/bad/idx:1"
says_sizes "push --index names the blob and both sizes"
expect_output "push --index published nothing" 0 published "$LOG" bad/idx

# the wrong descriptor first
cp -r bad first
jq -c '.manifests |= reverse' bad/index.json >first/index.json
expect_code 1 "push --index: the wrong size listed first" hoist push --index first "$R/bad/first:1"
says_sizes "push --index names the blob and both sizes (wrong one first)"
expect_output "push --index published nothing (wrong one first)" 0 \
	published "$LOG" bad/first

# one image: its descriptor is checked against the blob (as before)
expect_code 1 "push of the image whose layer size is wrong" hoist push bad@b "$R/bad/one:1"
grep -q "blob $shared in '.*bad' has $size bytes, its descriptor says $((size + 1))" "$ERR" &&
	test_ok "push names the blob, its size and the descriptor's" ||
	test_not_ok "push names the blob, its size and the descriptor's" "$(cat "$ERR")"

# an index whose descriptor of a manifest has a wrong size
cp -r good badidx
entry badidx 0 "$ma" "$(($(stat -c %s "good/blobs/sha256/${ma#sha256:}") + 1))"
expect_code 1 "push --index: a manifest's size is wrong in the index" \
	hoist push --index badidx "$R/bad/idx2:1"
grep -q "$ma" "$ERR" && grep -q "$(stat -c %s "good/blobs/sha256/${ma#sha256:}") bytes" "$ERR" &&
	test_ok "push --index names the manifest and its size" ||
	test_not_ok "push --index names the manifest and its size" "$(cat "$ERR")"
expect_output "push --index published nothing (manifest size)" 0 \
	published "$LOG" bad/idx2

# --- copy from a registry that holds such an index ---------------------------------
# reg-tool puts the blobs and manifests as they are: distribution checks that
# a manifest's blobs exist, not their sizes.
ok=1
for f in bad/blobs/sha256/*; do
	"$RT" push-blob "$R/src/bad" "$f" >/dev/null 2>>rt.err || ok=
done
"$RT" put-manifest "$R/src/bad@$ma" "bad/blobs/sha256/${ma#sha256:}" \
	application/vnd.oci.image.manifest.v1+json >/dev/null 2>>rt.err || ok=
"$RT" put-manifest "$R/src/bad@$mbad" b.json application/vnd.oci.image.manifest.v1+json \
	>/dev/null 2>>rt.err || ok=
jq -c 'del(.manifests[].annotations)' bad/index.json >index.json
"$RT" put-manifest "$R/src/bad:1" index.json application/vnd.oci.image.index.v1+json \
	>/dev/null 2>>rt.err || ok=
[[ -n $ok ]] && test_ok "the registry takes the index with the wrong size" ||
	test_not_ok "the registry takes the index with the wrong size" "$(cat rt.err)"

expect_code 1 "copy within the registry: a layer listed with two sizes" \
	hoist copy "$R/src/bad:1" "$R/dst/bad:1"
says_sizes "copy within the registry names the blob and both sizes"
expect_output "copy within the registry published nothing" 0 published "$LOG" dst/bad
expect_code 1 "copy to another registry: a layer listed with two sizes" \
	hoist copy "$R/src/bad:1" "$R2/dst/bad:1"
says_sizes "copy to another registry names the blob and both sizes"
expect_output "copy to another registry published nothing" 0 published "$REGISTRY_LOG_two" dst/bad

test_done
