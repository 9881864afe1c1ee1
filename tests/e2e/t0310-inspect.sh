#!/usr/bin/env bash
# t0310-inspect - hoist manifest, config, digest, ls, catalog, blob, tag and
# delete against a real docker-registry, compared with skopeo; the cache
# contract (a digest-pinned manifest costs no request and survives the
# registry going away; --offline resolves a tag seen before).
. "$(dirname "$0")/../lib.sh"
test_init

sha() { sha256sum "$1" | cut -d' ' -f1; }
skopeo_raw() { skopeo inspect --tls-verify=false --raw "$@"; }
# requests FILE: the number of "> GET|HEAD" lines in a -vv trace
# (the ping of /v2/ not counted)
requests() { grep -cE '^> (GET|HEAD) /v2/[^ ]' "$1" || true; }

registry_start || { test_not_ok "registry starts"; test_done; }
R=$REGISTRY
seed_image library/hello:1 || { test_not_ok "seed_image"; test_done; }
seed=$SEED_DIGEST
seed_layout=$SEED_LAYOUT

# A two-platform index: the seed image as linux/amd64, another as linux/arm64.
seed_image --content "arm64 image" other/arm:1 || test_not_ok "second seed"
arm=$SEED_DIGEST
arm_layout=$SEED_LAYOUT
mkdir -p multi/blobs/sha256
cp "$seed_layout"/blobs/sha256/* "$arm_layout"/blobs/sha256/* multi/blobs/sha256/
printf '{"imageLayoutVersion":"1.0.0"}' >multi/oci-layout
jq -cn --arg a "$seed" --argjson asz "$(stat -c %s "$seed_layout/blobs/sha256/${seed#sha256:}")" \
	--arg b "$arm" --argjson bsz "$(stat -c %s "$arm_layout/blobs/sha256/${arm#sha256:}")" '{
	schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json",
	manifests: [
	 {mediaType: "application/vnd.oci.image.manifest.v1+json", digest: $a, size: $asz,
	  platform: {architecture: "amd64", os: "linux"}},
	 {mediaType: "application/vnd.oci.image.manifest.v1+json", digest: $b, size: $bsz,
	  platform: {architecture: "arm64", os: "linux", variant: "v8"}}]}' | tr -d '\n' >index.json.tmp
idx=sha256:$(sha index.json.tmp)
mv index.json.tmp "multi/blobs/sha256/${idx#sha256:}"
jq -n --arg d "$idx" --argjson s "$(stat -c %s "multi/blobs/sha256/${idx#sha256:}")" '{
	schemaVersion: 2, manifests: [{mediaType: "application/vnd.oci.image.index.v1+json",
	digest: $d, size: $s, annotations: {"org.opencontainers.image.ref.name": "multi"}}]}' \
	>multi/index.json
expect_success "push the index with skopeo" skopeo --insecure-policy copy --all --quiet \
	--dest-tls-verify=false oci:multi:multi "docker://$R/multi/img:1"

# --- manifest, config, digest: byte for byte as skopeo ---------------------
skopeo_raw "docker://$R/library/hello:1" >want-manifest
expect_success "manifest by tag" hoist manifest "$R/library/hello:1"
compare "manifest bytes are skopeo's (no newline added)" want-manifest "$OUT"
expect_output "the bytes hash to the digest" "${seed#sha256:}" sha "$OUT"
skopeo_raw --config "docker://$R/library/hello:1" >want-config
expect_success "config by tag" hoist config "$R/library/hello:1"
compare "config bytes are skopeo's" want-config "$OUT"
expect_output "digest equals skopeo's" \
	"$(skopeo inspect --tls-verify=false --format '{{.Digest}}' "docker://$R/library/hello:1")" \
	hoist digest "$R/library/hello:1"
expect_output "digest --full-ref" "$R/library/hello@$seed" hoist digest --full-ref "$R/library/hello:1"
expect_output "digest of a digest reference" "$seed" hoist digest "$R/library/hello@$seed"

skopeo_raw "docker://$R/multi/img:1" >want-index
expect_success "manifest of an index is the index" hoist manifest "$R/multi/img:1"
compare "index bytes are skopeo's" want-index "$OUT"
expect_output "digest of an index" "$idx" hoist digest "$R/multi/img:1"
expect_success "manifest --platform linux/arm64 picks the child" \
	hoist manifest --platform linux/arm64 "$R/multi/img:1"
expect_output "it is the arm64 image" "${arm#sha256:}" sha "$OUT"
expect_output "digest --platform linux/arm64" "$arm" hoist --platform linux/arm64 digest "$R/multi/img:1"
expect_output "digest --platform linux/amd64" "$seed" hoist digest --platform linux/amd64 "$R/multi/img:1"
expect_success "config of an index defaults to linux/amd64" hoist config "$R/multi/img:1"
compare "it is the amd64 config" want-config "$OUT"
skopeo_raw --config --override-arch arm64 --override-variant v8 "docker://$R/multi/img:1" >want-arm-config
expect_success "config --platform linux/arm64" hoist config --platform linux/arm64 "$R/multi/img:1"
compare "it is the arm64 config (as skopeo picks it)" want-arm-config "$OUT"
expect_code 1 "no image for linux/s390x" hoist config --platform linux/s390x "$R/multi/img:1"
grep -q "no image for platform linux/s390x" "$ERR" && test_ok "it says which platform is missing" ||
	test_not_ok "it says which platform is missing" "$(cat "$ERR")"

expect_code 1 "a missing tag fails" hoist manifest "$R/library/hello:nope"
grep -qE "^error: cannot get the manifest of '$R/library/hello:nope': .*(manifest unknown|not found)" "$ERR" &&
	test_ok "it says the manifest is unknown" || test_not_ok "it says the manifest is unknown" "$(cat "$ERR")"
[[ ! -s $OUT ]] && test_ok "nothing on stdout after a failure" || test_not_ok "nothing on stdout after a failure"
expect_code 2 "manifest without an image" hoist manifest
expect_code 2 "manifest with two images" hoist manifest a b
expect_code 2 "a malformed reference" hoist manifest "$R/Bad Name"
expect_code 2 "digest: unknown option" hoist digest --nope "$R/library/hello:1"

# --- the cache contract ----------------------------------------------------
C=$TEST_DIR/cache2
expect_success "manifest by digest, cold" hoist --cache "$C" -vv manifest "$R/library/hello@$seed"
n=$(requests "$ERR")
((n >= 1)) && test_ok "the cold run asked the registry ($n requests)" ||
	test_not_ok "the cold run asked the registry"
expect_success "manifest by digest, again" hoist --cache "$C" -vv manifest "$R/library/hello@$seed"
compare "same bytes from the cache" want-manifest "$OUT"
expect_output "the second run made no request" 0 requests "$ERR"
expect_success "config by digest, warm" hoist --cache "$C" -vv config "$R/library/hello@$seed"
compare "config from the cache" want-config "$OUT"
expect_success "manifest by tag, online once" hoist --cache "$C" manifest "$R/multi/img:1"
expect_success "config by tag, online once" hoist --cache "$C" config --platform linux/arm64 "$R/multi/img:1"
expect_success "a tag costs one HEAD when cached" hoist --cache "$C" -vv digest "$R/multi/img:1"
trace=$ERR
expect_output "exactly one request" 1 requests "$trace"
grep -q '^> HEAD /v2/multi/img/manifests/1 ' "$trace" && test_ok "and it is a HEAD" ||
	test_not_ok "and it is a HEAD" "$(grep '^> ' "$trace")"
grep -q "$R/multi/img:1" "$C/.hoist/meta-index.json" &&
	test_ok "the tag is recorded in .hoist/meta-index.json" ||
	test_not_ok "the tag is recorded in .hoist/meta-index.json"

cp -r "$REGISTRY_DIR/data" registry-data.saved
registry_stop
expect_success "registry gone: manifest by digest still works" \
	hoist --cache "$C" manifest "$R/library/hello@$seed"
compare "registry gone: same bytes" want-manifest "$OUT"
expect_success "registry gone: config by digest" hoist --cache "$C" config "$R/library/hello@$seed"
compare "registry gone: same config" want-config "$OUT"
expect_output "--offline: a tag seen before" "$idx" hoist --cache "$C" --offline digest "$R/multi/img:1"
expect_success "--offline: manifest of that tag" hoist --cache "$C" --offline manifest "$R/multi/img:1"
compare "--offline: index bytes" want-index "$OUT"
expect_success "--offline: its arm64 config" hoist --cache "$C" --offline config --platform linux/arm64 "$R/multi/img:1"
compare "--offline: arm64 config bytes" want-arm-config "$OUT"
expect_code 1 "--offline: a tag never seen fails" hoist --cache "$C" --offline manifest "$R/library/hello:never"
grep -q "not in the cache" "$ERR" && test_ok "it says it is not in the cache" ||
	test_not_ok "it says it is not in the cache" "$(cat "$ERR")"
expect_code 1 "registry gone, tag without --offline fails" hoist --cache "$C" manifest "$R/library/hello:1"
grep -q -- 'cannot connect to registry' "$ERR" && test_ok "registry gone, tag without --offline fails: the message says why" ||
	test_not_ok "registry gone, tag without --offline fails: the message says why" "$(cat "$ERR")"

registry_start || { test_not_ok "registry restarts"; test_done; }
R=$REGISTRY
rm -rf "$REGISTRY_DIR/data" && cp -r registry-data.saved "$REGISTRY_DIR/data"

# --- ls, catalog -----------------------------------------------------------
for t in 2 3 sha256-$(printf 'a%.0s' {1..64}).sig; do
	skopeo --insecure-policy copy --quiet --src-tls-verify=false --dest-tls-verify=false \
		"docker://$R/library/hello:1" "docker://$R/library/hello:$t" || test_not_ok "tag $t"
done
skopeo list-tags --tls-verify=false "docker://$R/library/hello" | jq -r '.Tags[]' >want-tags
expect_success "ls" hoist ls "$R/library/hello"
compare "ls lists skopeo's tags, in order" want-tags "$OUT"
expect_success "ls --full-ref" hoist ls --full-ref "$R/library/hello"
sed "s|^|$R/library/hello:|" want-tags >want-full
compare "ls --full-ref prefixes the repository" want-full "$OUT"
expect_success "ls -O" hoist ls -O "$R/library/hello"
grep -v '^sha256-' want-tags >want-omit
compare "ls -O leaves out sha256- tags" want-omit "$OUT"
expect_success "ls --omit-digest-tags" hoist ls --omit-digest-tags "$R/library/hello"
compare "the long option too" want-omit "$OUT"
expect_code 1 "ls of a missing repository" hoist ls "$R/no/such"
expect_code 2 "ls of a reference with a tag" hoist ls "$R/library/hello:1"
expect_code 2 "ls --offline" hoist --offline ls "$R/library/hello"

expect_success "catalog" hoist catalog "$R"
printf '%s\n' library/hello multi/img other/arm >want-catalog
compare "catalog lists the repositories" want-catalog "$OUT"
expect_success "catalog --full-ref" hoist catalog --full-ref "$R"
sed "s|^|$R/|" want-catalog >want-catalog-full
compare "catalog --full-ref prefixes the registry" want-catalog-full "$OUT"
expect_success "catalog of a URL" hoist catalog "http://$R/"
compare "a URL names the registry" want-catalog "$OUT"
expect_code 2 "catalog of a repository" hoist catalog "$R/library"
expect_code 2 "catalog of a bare word" hoist catalog nothost

# --- blob ------------------------------------------------------------------
layer=$(jq -r '.layers[0].digest' want-manifest)
expect_success "blob of a layer" hoist blob "$R/library/hello@$layer"
cp "$OUT" blob.out
expect_output "the blob hashes to its digest" "${layer#sha256:}" sha blob.out
cmp -s blob.out "$seed_layout/blobs/sha256/${layer#sha256:}" && test_ok "the blob is the seed's layer" ||
	test_not_ok "the blob is the seed's layer"
expect_code 1 "a missing blob" hoist blob "$R/library/hello@sha256:$(printf '0%.0s' {1..64})"
expect_code 2 "blob without a digest" hoist blob "$R/library/hello:1"
# a blob whose stored bytes were changed: refused
bpath=$REGISTRY_DIR/data/docker/registry/v2/blobs/sha256/${layer:7:2}/${layer#sha256:}/data
cp "$bpath" layer.saved
printf 'X' | dd of="$bpath" bs=1 seek=10 conv=notrunc 2>/dev/null
expect_code 1 "a corrupted blob fails" hoist blob "$R/library/hello@$layer"
grep -q "does not match its digest" "$ERR" && test_ok "it says the digest does not match" ||
	test_not_ok "it says the digest does not match" "$(cat "$ERR")"
cp layer.saved "$bpath"

# --- tag, delete -----------------------------------------------------------
expect_success "tag" hoist -v tag "$R/library/hello:1" copied
expect_output "skopeo sees the new tag at the same digest" "$seed" \
	skopeo inspect --tls-verify=false --format '{{.Digest}}' "docker://$R/library/hello:copied"
expect_success "tag an index by digest" hoist tag "$R/multi/img@$idx" also
expect_output "the index keeps its digest" "$idx" hoist digest "$R/multi/img:also"
expect_code 2 "tag with a reference as the tag" hoist tag "$R/library/hello:1" "$R/x:y"
expect_code 2 "tag with a bad tag" hoist tag "$R/library/hello:1" 'bad!'
expect_code 1 "tag of a missing image" hoist tag "$R/library/hello:nope" x

expect_code 2 "delete without tag or digest" hoist delete "$R/library/hello"
expect_code 1 "delete of a tag (distribution refuses)" hoist delete "$R/library/hello:copied"
grep -q "does not delete tags" "$ERR" && grep -q "^hint: delete the manifest by digest" "$ERR" &&
	test_ok "it says so and hints at the digest" || test_not_ok "it says so and hints at the digest" "$(cat "$ERR")"
expect_success "delete by digest" hoist delete "$R/other/arm@$arm"
expect_failure "skopeo no longer finds it" skopeo inspect --tls-verify=false --raw "docker://$R/other/arm@$arm"
expect_code 1 "deleting it again fails" hoist delete "$R/other/arm@$arm"

test_done
