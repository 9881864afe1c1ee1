#!/usr/bin/env bash
# t0970-messages: error messages say what is wrong in the user's terms, never
# in hoist's own (no C flag, function or struct names): a JSON document that
# is null, a layout without blobs/, a docker-save tarball of several images
# given to validate, export and push.
. "$(dirname "$0")/../lib.sh"
test_init

# blob FILE: stores FILE's bytes as a blob of the layout in ./lay, prints its hex digest
blob() {
	local d
	d=$(sha256sum "$1" | cut -c1-64)
	mkdir -p lay/blobs/sha256 && cp "$1" "lay/blobs/sha256/$d" && echo "$d"
}
# layout DIGEST SIZE: ./lay with one manifest in index.json
layout() {
	echo '{"imageLayoutVersion":"1.0.0"}' >lay/oci-layout
	printf '{"schemaVersion":2,"manifests":[{"mediaType":"%s","digest":"sha256:%s","size":%s}]}' \
		application/vnd.oci.image.manifest.v1+json "$1" "$2" >lay/index.json
}
# no_internal_names DESC FILE: FILE shows no C identifier of hoist's
no_internal_names() {
	if grep -qE '[A-Z]+_[A-Z_]+|[a-z]+_[a-z_]+\(\)|struct [a-z]' "$2"; then
		test_not_ok "$1" "$(cat "$2")"
	else
		test_ok "$1"
	fi
}

# --- a JSON document that is null --------------------------------------------------
mkdir lay
printf null >null.json
m=$(blob null.json)
layout "$m" 4
expect_code 1 "validate: a manifest that is null" hoist validate --layout lay
grep -q "sha256:$m: invalid manifest: JSON document is null" "$OUT" &&
	test_ok "validate names the null manifest" || test_not_ok "validate names the null manifest" "$(cat "$OUT")"
if grep -q 'unexpected end' "$OUT"; then
	test_not_ok "a null manifest is not 'unexpected end of input'"
else
	test_ok "a null manifest is not 'unexpected end of input'"
fi

rm -rf lay && mkdir lay
c=$(blob null.json)
printf '{"schemaVersion":2,"mediaType":"%s","config":{"mediaType":"%s","digest":"sha256:%s","size":4},"layers":[]}' \
	application/vnd.oci.image.manifest.v1+json application/vnd.oci.image.config.v1+json "$c" >m.json
m=$(blob m.json)
layout "$m" "$(stat -c %s m.json)"
expect_code 1 "validate: a config that is null" hoist validate --layout lay
grep -q "config sha256:$c: invalid image config: JSON document is null" "$OUT" &&
	test_ok "validate names the null config" || test_not_ok "validate names the null config" "$(cat "$OUT")"

cp null.json cfg.json
expect_code 1 "a config file that is null" hoist --config "$PWD/cfg.json" cache ls
grep -q "cfg.json: JSON document is null$" "$ERR" && ! grep -q 'invalid JSON' "$ERR" &&
	test_ok "the config file is called null, not invalid JSON" ||
	test_not_ok "the config file is called null, not invalid JSON" "$(cat "$ERR")"
echo '{' >cfg.json
expect_code 1 "a config file that is cut short" hoist --config "$PWD/cfg.json" cache ls
grep -q "cfg.json: invalid JSON: unexpected end of input$" "$ERR" &&
	test_ok "the config file's JSON error is said once" ||
	test_not_ok "the config file's JSON error is said once" "$(cat "$ERR")"

# --- a layout without blobs/ -----------------------------------------------------------
rm -rf lay && mkdir lay
echo '{"imageLayoutVersion":"1.0.0"}' >lay/oci-layout
echo '{"schemaVersion":2,"manifests":[]}' >lay/index.json
expect_code 1 "validate: a layout without blobs/" hoist validate --layout lay
grep -q "layout '.*lay' is damaged: its blobs/ is missing" "$ERR" &&
	test_ok "the layout without blobs/ is named" || test_not_ok "the layout without blobs/ is named" "$(cat "$ERR")"
no_internal_names "the layout message shows no internal names" "$ERR"
grep -q "'hoist pull IMAGE .*lay' recreates it" "$ERR" &&
	test_ok "the layout message says how to repair it" ||
	test_not_ok "the layout message says how to repair it" "$(cat "$ERR")"
# ... and what it says works.
registry_start || { test_not_ok "registry starts"; test_done; }
seed_image test/one:1 || { test_not_ok "seed_image"; test_done; }
expect_success "pull into the layout without blobs/" hoist pull "$REGISTRY/test/one:1" lay
expect_success "the layout is whole again" hoist validate --layout lay

# --- a docker-save tarball of two images -----------------------------------------------
mkdir two && echo '{}' >two/cfg.json
echo '[{"Config":"cfg.json","RepoTags":["a:1"],"Layers":[]},{"Config":"cfg.json","RepoTags":["b:1"],"Layers":[]}]' \
	>two/manifest.json
tar -C two -cf two.tar manifest.json cfg.json
check_two() { # DESC FILE
	grep -q "it holds 2 images ('a:1', 'b:1'): choose one" "$2" && ! grep -q 'push takes' "$2" &&
		test_ok "$1: the tarball's images are counted and named, no other command named" ||
		test_not_ok "$1: the tarball's images are counted and named, no other command named" "$(cat "$2")"
}
# validate checks every image of the tarball (their "{}" configs are wrong;
# both entries are the same image, so its problem is reported once)
expect_code 1 "validate --tarball: two images, both checked" hoist validate --tarball two.tar
(($(grep -c "platform: 'os' and 'architecture' are required" "$OUT") == 1)) &&
	! grep -q 'push takes' "$OUT" "$ERR" &&
	test_ok "validate: each image's problem reported, no other command named" ||
	test_not_ok "validate: each image's problem reported, no other command named" "$(cat "$OUT" "$ERR")"
expect_code 2 "export: two images from stdin, none chosen" hoist export - out.tar <two.tar
check_two "export" "$ERR"
if grep -q "hoist-export" "$ERR"; then
	test_not_ok "export names no scratch file" "$(cat "$ERR")"
else
	test_ok "export names no scratch file"
fi
expect_code 2 "push: two images, none chosen" hoist push two.tar "$REGISTRY/test/two:1"
check_two "push" "$ERR"

test_done
