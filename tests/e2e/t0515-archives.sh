#!/usr/bin/env bash
# t0515-archives: image archives as sources of push, validate, export and
# unpack: OCI archives (skopeo's oci-archive:, a layout tarred by hand with
# index.json last, on a pipe), told from docker-save tarballs by their
# content; one image chosen from an archive of several (oci-archive:FILE:REF,
# FILE@REF, FILE:@N, docker-archive:FILE:REPO:TAG); FILE.tar@TAG read as a
# tarball, not as a layout of that name; and sparse members refused before
# they fill the disk.  What hoist pushed is pulled back with skopeo.
. "$(dirname "$0")/../lib.sh"
test_init

registry_start || { test_not_ok "registry starts"; test_done; }
R=$REGISTRY
# blob files in the scratch layouts (which are removed afterwards)
tmp_empty() { [[ -z $(ls -A tmp) ]]; }
# the layer digests and config digest skopeo sees at REF
sk_blobs() {
	skopeo inspect --tls-verify=false --raw "docker://$1" | jq -r '[.config.digest, .layers[].digest] | join(" ")'
}

mk_image src one >/dev/null || test_not_ok "mk_image"
push_oci src:one "$R/orig/one:1" || test_not_ok "skopeo seeds one"
mk_image src two >/dev/null
push_oci src:two "$R/orig/two:1" || test_not_ok "skopeo seeds two"
one=$(sk_digest "$R/orig/one:1")
two=$(sk_digest "$R/orig/two:1")

# --- an OCI archive written by skopeo ---------------------------------------------
skopeo --insecure-policy copy -q --src-tls-verify=false "docker://$R/orig/one:1" \
	"oci-archive:$PWD/one-oci.tar:one" || test_not_ok "skopeo writes an OCI archive"
tar -tf one-oci.tar | grep -qx manifest.json && test_not_ok "skopeo's OCI archive has no manifest.json"
expect_output "push oci-archive:FILE keeps the digest" "$R/oa/one@$one" \
	hoist push "oci-archive:one-oci.tar" "$R/oa/one:1"
expect_output "skopeo sees that digest" "$one" sk_digest "$R/oa/one:1"
expect_success "skopeo pulls it back" \
	skopeo --insecure-policy copy -q --src-tls-verify=false "docker://$R/oa/one:1" oci:back:b
expect_output "a bare OCI archive is told by its content" "$R/oa/bare@$one" \
	hoist push one-oci.tar "$R/oa/bare:1"
expect_output "oci-archive:FILE:REF" "$R/oa/ref@$one" hoist push "oci-archive:one-oci.tar:one" "$R/oa/ref:1"
expect_output "FILE@REF" "$R/oa/at@$one" hoist push "one-oci.tar@one" "$R/oa/at:1"
expect_code 1 "an unknown REF is refused" hoist push "oci-archive:one-oci.tar:nope" "$R/oa/x:1"
grep -q "no image 'nope', only 'one'" "$ERR" && test_ok "the refusal names what the archive holds" ||
	test_not_ok "the refusal names what the archive holds" "$(cat "$ERR")"
tmp_empty && test_ok "the scratch layouts are removed" || test_not_ok "the scratch layouts are removed" "$(ls -A tmp)"
expect_output "validate --tarball of an OCI archive" "PASS: one-oci.tar" hoist validate --tarball one-oci.tar
expect_output "validate oci-archive:FILE" "PASS: oci-archive:one-oci.tar" \
	hoist validate oci-archive:one-oci.tar
expect_output "validate --layout oci-archive:FILE" "PASS: oci-archive:one-oci.tar:one" \
	hoist validate --layout oci-archive:one-oci.tar:one
expect_success "export of the registry image" hoist export "$R/orig/one:1" ref.tar
expect_success "export oci-archive:FILE" hoist export oci-archive:one-oci.tar oa.tar
compare "export: the archive's image is the registry's" <(tarlist ref.tar) <(tarlist oa.tar)
expect_success "export - reads an OCI archive from a pipe" \
	sh -c 'cat one-oci.tar | "$HOIST" export - pipe.tar'
compare "export -: the same listing" <(tarlist ref.tar) <(tarlist pipe.tar)
expect_success "unpack oci-archive:FILE" hoist unpack oci-archive:one-oci.tar rootfs
cmp -s rootfs/small <(echo "one amd64") && test_ok "unpack: the file is there" ||
	test_not_ok "unpack: the file is there"

# --- an OCI archive of two images, tarred by hand, index.json last -------------------
rm -rf two-lay
da=$(mk_image two-lay a)
db=$(mk_image two-lay b)
tar -C two-lay -cf two-oci.tar blobs oci-layout index.json
expect_code 2 "an archive of two images needs a name" hoist push two-oci.tar "$R/two/x:1"
grep -q "holds 2 images ('a', 'b')" "$ERR" && grep -q "^hint: .*two-oci.tar@NAME" "$ERR" &&
	test_ok "the error lists the names and says how to choose" ||
	test_not_ok "the error lists the names and says how to choose" "$(cat "$ERR")"
expect_output "oci-archive:FILE:b" "$R/two/b@$db" hoist push oci-archive:two-oci.tar:b "$R/two/b:1"
expect_output "FILE@a" "$R/two/a@$da" hoist push two-oci.tar@a "$R/two/a:1"
expect_output "FILE:@1 chooses by position" "$R/two/pos@$db" hoist push "two-oci.tar:@1" "$R/two/pos:1"
expect_output "FILE@@0 chooses by position" "$R/two/pos0@$da" hoist push "two-oci.tar@@0" "$R/two/pos0:1"
expect_output "--ref chooses in an archive too" "$R/two/opt@$db" hoist push --ref b two-oci.tar "$R/two/opt:1"
expect_success "push --index of the archive" hoist push --index two-oci.tar "$R/two/idx:1"
expect_output "the index holds both images" "$da $db" \
	sh -c "skopeo inspect --tls-verify=false --raw 'docker://$R/two/idx:1' | jq -r '[.manifests[].digest] | join(\" \")'"
expect_output "validate checks every image of the archive" "PASS: two-oci.tar" hoist validate --tarball two-oci.tar
# only the chosen image's blobs are written: b's big layer, corrupted, is never read
big_b=$(jq -r '.layers[0].digest' "two-lay/blobs/sha256/${db#sha256:}" | sed 's/^sha256://')
head -c 1000 /dev/urandom | dd of="two-lay/blobs/sha256/$big_b" bs=1000 seek=1 conv=notrunc status=none
tar -C two-lay -cf bad-b.tar blobs oci-layout index.json
expect_output "a corrupt blob of another image is not read" "$R/two/a2@$da" hoist push bad-b.tar@a "$R/two/a2:1"
expect_code 1 "the corrupt image's blob is refused" hoist push bad-b.tar@b "$R/two/b2:1"
grep -q "blobs/sha256/$big_b" "$ERR" && test_ok "the refusal names the corrupt blob" ||
	test_not_ok "the refusal names the corrupt blob" "$(cat "$ERR")"
expect_code 1 "validate finds the corrupt blob" hoist validate --tarball bad-b.tar
tmp_empty && test_ok "no scratch layout is left behind" || test_not_ok "no scratch layout is left behind" "$(ls -A tmp)"

# --- docker-save tarballs of several images --------------------------------------
expect_success "hoist writes a tarball of two images" \
	hoist pull --format tarball "$R/orig/one:1" "$R/orig/two:1" multi.tar
expect_output "its manifest.json lists two" "2" sh -c 'tar -xOf multi.tar manifest.json | jq length'
expect_success "a tarball of the second alone" hoist pull --format tarball "$R/orig/two:1" two.tar
expect_success "push of that tarball" hoist push two.tar "$R/ds/alone:1"
alone=$(cut -d@ -f2 "$OUT")
expect_code 2 "a tarball of two images needs a name" hoist push multi.tar "$R/ds/x:1"
grep -q "holds 2 images ('$R/orig/one:1', '$R/orig/two:1')" "$ERR" &&
	test_ok "the error lists the RepoTags" || test_not_ok "the error lists the RepoTags" "$(cat "$ERR")"
expect_output "FILE@REPO:TAG" "$R/ds/tag@$alone" hoist push "multi.tar@$R/orig/two:1" "$R/ds/tag:1"
expect_output "docker-archive:FILE:REPO:TAG" "$R/ds/da@$alone" \
	hoist push "docker-archive:multi.tar:$R/orig/two:1" "$R/ds/da:1"
expect_output "FILE:@1" "$R/ds/pos@$alone" hoist push "multi.tar:@1" "$R/ds/pos:1"
expect_output "the pushed image is the tarball's config and layers" \
	"$(tar -xOf multi.tar manifest.json | jq -r '.[1] | [.Config] + .Layers | .[]' |
		while read -r f; do tar -xOf multi.tar "$f" | sha256sum | sed 's/ .*//; s/^/sha256:/'; done |
		paste -sd' ')" sk_blobs "$R/ds/tag:1"
expect_success "skopeo pulls it back" \
	skopeo --insecure-policy copy -q --src-tls-verify=false "docker://$R/ds/tag:1" oci:back-ds:x
expect_code 1 "an unknown tag is refused" hoist push "multi.tar@$R/orig/three:1" "$R/ds/x:1"
expect_output "validate --tarball checks both images" "PASS: multi.tar" hoist validate --tarball multi.tar
expect_success "export docker-archive:FILE:REPO:TAG" hoist export "docker-archive:multi.tar:$R/orig/two:1" two-x.tar
expect_success "export of the registry image two" hoist export "$R/orig/two:1" two-ref.tar
compare "export: the chosen image" <(tarlist two-ref.tar) <(tarlist two-x.tar)

# --- FILE.tar@TAG is a tarball with a reference, not a layout named so ------------------
skopeo --insecure-policy copy -q --src-tls-verify=false "docker://$R/orig/one:1" \
	"docker-archive:$PWD/one.tar:orig/one:1" || test_not_ok "skopeo writes a tarball"
expect_success "push FILE.tar@TAG" hoist push one.tar@orig/one:1 "$R/at/one:1"
expect_output "FILE.tar@TAG pushes the tarball's image" "$(cut -d@ -f2 "$OUT")" \
	sh -c "\"\$HOIST\" push one.tar '$R/at/plain:1' | cut -d@ -f2"
cp one.tar 'we@ird.tar'
expect_success "a file whose name holds '@' is read whole" hoist push 'we@ird.tar' "$R/at/weird:1"

# --- OCI archives as destinations ------------------------------------------------
expect_output "pull --format oci-archive" "$R/orig/one@$one
$R/orig/two@$two" hoist pull --format oci-archive "$R/orig/one:1" "$R/orig/two:1" pulled.tar
expect_output "index.json comes first, after oci-layout" "oci-layout index.json" \
	sh -c 'tar -tf pulled.tar | head -2 | paste -sd" "'
expect_output "skopeo reads the archive" "$two" \
	skopeo inspect --format '{{.Digest}}' "oci-archive:pulled.tar:$R/orig/two:1"
expect_success "skopeo copies from the archive" skopeo --insecure-policy copy -q \
	--dest-tls-verify=false "oci-archive:pulled.tar:$R/orig/one:1" "docker://$R/dest/sk:1"
expect_output "with the digest pulled" "$one" sk_digest "$R/dest/sk:1"
expect_output "hoist pushes from its own archive" "$R/dest/back@$two" \
	hoist push "oci-archive:pulled.tar:$R/orig/two:1" "$R/dest/back:1"
echo hello >hello.txt
expect_success "build --output oci-archive:FILE" hoist build --base "$R/orig/one:1" \
	--add hello.txt:/hello.txt -t "$R/dest/built:1" --output oci-archive:built.tar
built=$(cat "$OUT")
expect_success "build --output oci:DIR" hoist build --base "$R/orig/one:1" \
	--add hello.txt:/hello.txt -t "$R/dest/built:1" --output oci:built-lay
expect_output "the same image either way" "$built" cat "$OUT"
expect_output "skopeo finds it under its tag" "$built" \
	skopeo inspect --format '{{.Digest}}' "oci-archive:built.tar:$R/dest/built:1"
expect_output "validate the built archive" "PASS: built.tar" hoist validate --tarball built.tar
expect_success "a two-platform build into an archive" hoist build \
	--platform linux/amd64,linux/arm64 --add hello.txt:/hello.txt --output oci-archive:multi-oci.tar
expect_output "the archive holds the index and both images" "2" \
	sh -c "skopeo inspect --raw oci-archive:multi-oci.tar:latest | jq '.manifests | length'"
expect_output "index list oci-archive:FILE:NAME lists the platforms" "linux/amd64 linux/arm64/v8" \
	sh -c '"$HOIST" index list oci-archive:multi-oci.tar:latest | cut -f3 | paste -sd" "'
expect_output "index list FILE of two images lists its index.json" "$one $two" \
	sh -c '"$HOIST" index list pulled.tar | cut -f1 | paste -sd" "'
expect_success "skopeo copies the whole index" skopeo --insecure-policy copy -q --all \
	--dest-tls-verify=false oci-archive:multi-oci.tar:latest "docker://$R/dest/multi:1"
expect_output "flatten --output oci-archive:FILE, named latest" "latest" \
	sh -c "\"\$HOIST\" flatten '$R/orig/one:1' -o oci-archive:flat.tar >/dev/null &&
		tar -xOf flat.tar index.json | jq -r '.manifests[0].annotations[\"org.opencontainers.image.ref.name\"]'"
expect_code 2 "an unknown output is refused with the forms taken" \
	hoist build --add hello.txt:/hello.txt --output archive:x.tar
grep -q "oci-archive:<file>" "$ERR" && test_ok "the refusal names oci-archive:" ||
	test_not_ok "the refusal names oci-archive:" "$(cat "$ERR")"

# --- sparse members -------------------------------------------------------------
# GNU tar --sparse stores a 10 GiB hole in a few KiB; hoist must refuse it, not
# expand it (ulimit -f makes an expansion fail fast instead of filling the disk)
mkdir sp && truncate -s 10G sp/hole && printf abc >sp/head && truncate -s 10G sp/head
printf '[{"Config":"cfg.json","RepoTags":["sp/x:1"],"Layers":["hole"]}]' >sp/manifest.json
tar -xOf one.tar "$(tar -xOf one.tar manifest.json | jq -r '.[0].Config')" >sp/cfg.json
tar -C sp --sparse -cf hole.tar manifest.json cfg.json hole
jq '.[0].Layers = ["head"]' sp/manifest.json >sp/m && mv sp/m sp/manifest.json
tar -C sp --sparse --format=pax -cf head.tar manifest.json cfg.json head
(($(stat -c %s hole.tar) < 100000)) && test_ok "the sparse tarballs are small" ||
	test_not_ok "the sparse tarballs are small"
ulimit -f 204800
expect_code 1 "push of a tarball with a sparse member (data, then a hole)" hoist push head.tar "$R/sp/head:1"
grep -q "'head' is a sparse file of 10737418240 bytes with only 4096 stored" "$ERR" &&
	grep -q "without tar's --sparse" "$ERR" && test_ok "the refusal says what and what to do" ||
	test_not_ok "the refusal says what and what to do" "$(cat "$ERR")"
expect_code 1 "push of a tarball whose member is all hole" hoist push hole.tar "$R/sp/hole:1"
grep -q "'hole' is a sparse file of 10737418240 bytes with only 0 stored" "$ERR" &&
	test_ok "the all-hole member is named" || test_not_ok "the all-hole member is named" "$(cat "$ERR")"
expect_code 1 "validate --tarball refuses it" hoist validate --tarball head.tar
grep -q "sparse file" "$OUT" && test_ok "validate names the sparse member" ||
	test_not_ok "validate names the sparse member" "$(cat "$OUT" "$ERR")"
expect_code 1 "export - refuses it from a pipe" sh -c 'cat head.tar | "$HOIST" export - out-sp.tar'
(($(du -sk tmp | cut -f1) < 1024)) && tmp_empty && test_ok "nothing large was written" ||
	test_not_ok "nothing large was written" "$(du -sk tmp)"
ulimit -f unlimited 2>/dev/null
rm -rf sp

test_done
