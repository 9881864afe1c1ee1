#!/usr/bin/env bash
# t0830-index: `hoist index list|filter|append` on real registries, checked
# with skopeo (inspect --raw, --override-arch): children kept byte for byte,
# copied between registries or present/mounted within one, platforms from
# configs, OCI vs Docker list media types.  Also: layers written by Debian's
# umoci 0.4.7 (Go's archive/tar never closed: no padding, no end blocks) are
# read by validate and export.
. "$(dirname "$0")/../lib.sh"
test_init

registry_start --name a || { test_not_ok "registry a starts"; test_done; }
registry_start --name b || { test_not_ok "registry b starts"; test_done; }
A=$REGISTRY_a
B=$REGISTRY_b
raw() { skopeo inspect --tls-verify=false --raw "docker://$1"; }
arch_of() { skopeo inspect --tls-verify=false --override-arch "$2" --format '{{.Architecture}}' "docker://$1"; }

da=$(mk_image multi amd64 amd64 200000)
db=$(mk_image multi arm64 arm64 1500000)
ds=$(mk_image multi s390x s390x 100000)
hoist push --index multi "$A/multi/idx:1" >/dev/null || test_not_ok "push the index"
idx=$(raw "$A/multi/idx:1" | sha256sum | sed 's/^/sha256:/; s/ .*//')

# --- list (moved from validate.c) --------------------------------------------------
expect_success "index list" hoist index list "$A/multi/idx:1"
cp "$OUT" list.out
expect_output "index list shows three children" "3" sh -c "wc -l <list.out | tr -d ' '"
grep -q "^$db	application/vnd.oci.image.manifest.v1+json	linux/arm64" list.out &&
	test_ok "index list names the arm64 child" || test_not_ok "index list names the arm64 child"

# --- filter ------------------------------------------------------------------------
expect_success "filter to another registry" \
	hoist index filter "$A/multi/idx:1" --platform linux/amd64 --platform linux/arm64 -t "$B/f/idx:1"
raw "$B/f/idx:1" >f.json
fd=$(sha256sum <f.json | sed 's/^/sha256:/; s/ .*//')
expect_output "filter prints the pushed index" "$B/f/idx@$fd" cat "$OUT"
expect_output "two children kept, in order" "$da $db" jq -r '[.manifests[].digest] | join(" ")' f.json
expect_output "the media type is kept (none, as hoist push --index wrote it)" \
	"$(raw "$A/multi/idx:1" | jq -r .mediaType)" jq -r .mediaType f.json
raw "$A/multi/idx:1" | jq -c '.manifests[0]' >src0.json
jq -c '.manifests[0]' f.json >f0.json
compare "a kept child's descriptor is unchanged" src0.json f0.json
expect_output "skopeo --override-arch arm64 finds the arm64 image" "arm64" arch_of "$B/f/idx:1" arm64
expect_output "the arm64 image was copied whole" "$db" sk_digest "$B/f/idx@$db"
expect_code 1 "skopeo --override-arch s390x finds nothing" arch_of "$B/f/idx:1" s390x
expect_code 1 "the s390x child was not copied" sk_digest "$B/f/idx@$ds"
expect_success "skopeo can pull the filtered index" \
	skopeo --insecure-policy copy -q --all --src-tls-verify=false "docker://$B/f/idx:1" oci:fout:x

expect_success "filter with a comma list and an os alone" \
	hoist index filter "$A/multi/idx:1" --platform linux/s390x,windows --platform linux/arm64/v8 -t "$B/f/two:1"
expect_output "comma list: s390x and arm64" "$db $ds" sh -c "skopeo inspect --tls-verify=false --raw 'docker://$B/f/two:1' | jq -r '[.manifests[].digest] | join(\" \")'"
expect_success "--platform linux keeps every linux child" \
	hoist index filter "$A/multi/idx:1" --platform linux -t "$B/f/all:1"
expect_output "all three" "3" sh -c "skopeo inspect --tls-verify=false --raw 'docker://$B/f/all:1' | jq '.manifests | length'"

before=$(blob_writes "$REGISTRY_LOG_a")
expect_success "filter within one registry" \
	hoist index filter "$A/multi/idx:1" --platform linux/s390x -t "$A/other/idx:s390x"
((before == $(blob_writes "$REGISTRY_LOG_a"))) && test_ok "within one registry no blob is uploaded" ||
	test_not_ok "within one registry no blob is uploaded"
expect_output "the s390x child is there" "$ds" sk_digest "$A/other/idx@$ds"
before=$(blob_writes "$REGISTRY_LOG_b")
expect_success "filter in place" hoist index filter "$B/f/all:1" --platform linux/amd64
((before == $(blob_writes "$REGISTRY_LOG_b"))) && test_ok "in place no blob moves" ||
	test_not_ok "in place no blob moves"
expect_output "in place: one child left" "$da" sh -c "skopeo inspect --tls-verify=false --raw 'docker://$B/f/all:1' | jq -r '[.manifests[].digest] | join(\" \")'"

expect_code 1 "no matching platform fails" \
	hoist index filter "$A/multi/idx:1" --platform linux/riscv64 -t "$B/f/none:1"
expect_code 1 "nothing was pushed" sk_digest "$B/f/none:1"
expect_code 2 "filter without --platform is a usage error" hoist index filter "$A/multi/idx:1"
expect_code 2 "a bad platform is a usage error" \
	hoist index filter "$A/multi/idx:1" --platform 'linux/a b' -t "$B/f/bad:1"

# --- append ------------------------------------------------------------------------
hoist copy "$A/multi/idx@$da" "$A/single/amd:1" >/dev/null &&
	hoist copy "$A/multi/idx@$db" "$A/single/arm:1" >/dev/null &&
	hoist copy "$A/multi/idx@$ds" "$A/single/s390x:1" >/dev/null || test_not_ok "seed single images"
expect_code 1 "filter of an image fails" hoist index filter "$A/single/amd:1" --platform linux -t "$B/f/img:1"
expect_success "append to an empty index" \
	hoist index append -m "$A/single/amd:1" -m "$A/single/arm:1" -t "$B/app/idx:1"
raw "$B/app/idx:1" >app.json
ad=$(sha256sum <app.json | sed 's/^/sha256:/; s/ .*//')
expect_output "append prints the pushed index" "$B/app/idx@$ad" cat "$OUT"
expect_output "an empty base is an OCI index" "2 application/vnd.oci.image.index.v1+json" \
	jq -r '"\(.schemaVersion) \(.mediaType)"' app.json
expect_output "platforms come from the configs" "$da linux/amd64 $db linux/arm64" \
	jq -r '[.manifests[] | "\(.digest) \(.platform.os)/\(.platform.architecture)"] | join(" ")' app.json
expect_output "skopeo --override-arch arm64 on the appended index" "arm64" arch_of "$B/app/idx:1" arm64
expect_output "the appended images were copied" "$da" sk_digest "$B/app/idx@$da"

expect_success "append an image to a base, in place" \
	hoist index append "$B/app/idx:1" -m "$A/single/s390x:1"
expect_output "three children now" "$da $db $ds" sh -c "skopeo inspect --tls-verify=false --raw 'docker://$B/app/idx:1' | jq -r '[.manifests[].digest] | join(\" \")'"
expect_success "append an index: its children" \
	hoist index append "$B/f/idx:1" -m "$A/other/idx:s390x" -t "$B/app/flat:1"
expect_output "flattened: the children appended" "$da $db $ds" sh -c "skopeo inspect --tls-verify=false --raw 'docker://$B/app/flat:1' | jq -r '[.manifests[].digest] | join(\" \")'"
sfx=$(raw "$A/other/idx:s390x" | sha256sum | sed 's/^/sha256:/; s/ .*//')
expect_success "--no-flatten appends the index itself" \
	hoist index append -m "$A/other/idx:s390x" --no-flatten -t "$B/app/nested:1"
expect_output "nested index child" "$sfx application/vnd.oci.image.index.v1+json" sh -c "skopeo inspect --tls-verify=false --raw 'docker://$B/app/nested:1' | jq -r '.manifests[] | \"\(.digest) \(.mediaType)\"'"
expect_output "and it was copied with its child" "$ds" sk_digest "$B/app/nested@$ds"

skopeo --insecure-policy copy -q --format v2s2 --src-tls-verify=false --dest-tls-verify=false \
	"docker://$A/single/amd:1" "docker://$A/docker/amd:1" || test_not_ok "a Docker-typed image"
dd=$(sk_digest "$A/docker/amd:1")
expect_success "--docker-empty-base" \
	hoist index append --docker-empty-base -m "$A/docker/amd:1" -t "$B/app/docker:1"
expect_output "a Docker manifest list" \
	"application/vnd.docker.distribution.manifest.list.v2+json $dd application/vnd.docker.distribution.manifest.v2+json amd64" \
	sh -c "skopeo inspect --tls-verify=false --raw 'docker://$B/app/docker:1' | jq -r '\"\(.mediaType) \(.manifests[0].digest) \(.manifests[0].mediaType) \(.manifests[0].platform.architecture)\"'"
expect_code 2 "a Docker list refuses an OCI manifest" \
	hoist index append "$B/app/docker:1" -m "$A/single/arm:1" -t "$B/app/mixed:1"
grep -q "OCI index" "$ERR" && test_ok "the refusal says what to do" || test_not_ok "the refusal says what to do"
expect_success "an OCI index takes a Docker manifest" \
	hoist index append "$B/app/idx:1" -m "$A/docker/amd:1" -t "$B/app/mixed:1"
expect_code 2 "append with neither base nor -t" hoist index append -m "$A/single/amd:1"
expect_code 1 "append to an image" hoist index append "$A/single/amd:1" -m "$A/single/arm:1" -t "$B/x:1"

# --- unpack restores xattrs (pax SCHILY.xattr.*) ------------------------------------
python3 - <<'PY' || test_not_ok "make a layer with xattrs"
import tarfile, io
with tarfile.open("xattr.tar", "w", format=tarfile.PAX_FORMAT) as t:
    def add(name, typ=tarfile.REGTYPE, data=b"", x=None, link=""):
        i = tarfile.TarInfo(name); i.type = typ; i.size = len(data); i.mode = 0o644
        i.linkname = link; i.mtime = 0
        if typ == tarfile.DIRTYPE: i.mode = 0o755
        i.pax_headers = {"SCHILY.xattr." + k: v for k, v in (x or {}).items()}
        t.addfile(i, io.BytesIO(data) if data else None)
    add("d", tarfile.DIRTYPE, x={"user.dir": "on a dir"})
    add("d/f", data=b"content\n", x={"user.greeting": "hello", "trusted.t": "root only",
                                     "system.odd": "x"})
    add("d/ro", data=b"ro\n", x={"user.k": "v"})
    add("d/l", tarfile.SYMTYPE, link="f", x={"user.onlink": "no"})
PY
python3 -c 'import tarfile; t = tarfile.open("xattr.tar"); i = t.getmember("d/ro"); print(i.pax_headers)' >/dev/null
lay=xl; mkdir -p $lay/blobs/sha256
echo '{"imageLayoutVersion":"1.0.0"}' >$lay/oci-layout
put() { local h; h=$(sha256sum "$1" | cut -d' ' -f1); cp "$1" "$lay/blobs/sha256/$h"; echo "$h"; }
lh=$(put xattr.tar)
jq -cn --arg l "sha256:$lh" '{architecture:"amd64", os:"linux", rootfs:{type:"layers", diff_ids:[$l]}}' >xcfg.json
ch=$(put xcfg.json)
jq -cn --arg c "sha256:$ch" --argjson cs "$(stat -c %s xcfg.json)" --arg l "sha256:$lh" \
	--argjson ls "$(stat -c %s xattr.tar)" \
	'{schemaVersion:2, mediaType:"application/vnd.oci.image.manifest.v1+json",
	  config:{mediaType:"application/vnd.oci.image.config.v1+json", digest:$c, size:$cs},
	  layers:[{mediaType:"application/vnd.oci.image.layer.v1.tar", digest:$l, size:$ls}]}' >xman.json
mh=$(put xman.json)
jq -cn --arg d "sha256:$mh" --argjson s "$(stat -c %s xman.json)" \
	'{schemaVersion:2, manifests:[{mediaType:"application/vnd.oci.image.manifest.v1+json",
	  digest:$d, size:$s, annotations:{"org.opencontainers.image.ref.name":"x"}}]}' >$lay/index.json
skopeo --insecure-policy copy -q --dest-tls-verify=false oci:xl:x "docker://$A/xattr/img:1" ||
	test_not_ok "push the xattr image"
getx() { python3 -c 'import os, sys; print(os.getxattr(sys.argv[1], sys.argv[2], follow_symlinks=False).decode())' "$@"; }
expect_success "unpack an image with xattrs" hoist unpack "$A/xattr/img:1" xdir
cp "$ERR" unpack.err
expect_output "user.* on a file" "hello" getx xdir/d/f user.greeting
expect_output "user.* on a directory" "on a dir" getx xdir/d user.dir
expect_output "the file's content" "content" cat xdir/d/f
if (($(id -u) == 0)); then
	expect_output "trusted.* as root" "root only" getx xdir/d/f trusted.t
	grep -q "warning: 2 extended attribute(s) skipped" unpack.err &&
		test_ok "system.* and a symlink's are skipped and counted" ||
		test_not_ok "system.* and a symlink's are skipped and counted" "$(cat unpack.err)"
else
	expect_failure "trusted.* needs root" getx xdir/d/f trusted.t
	grep -q "warning: 3 extended attribute(s) skipped" unpack.err &&
		test_ok "trusted.*, system.* and a symlink's are skipped and counted" ||
		test_not_ok "trusted.*, system.* and a symlink's are skipped and counted" "$(cat unpack.err)"
fi
expect_success "--no-xattrs" hoist unpack --no-xattrs "$A/xattr/img:1" xdir2
cp "$ERR" unpack2.err
expect_failure "--no-xattrs restores none" getx xdir2/d/f user.greeting
grep -q "extended attribute" unpack2.err && test_not_ok "--no-xattrs warns of nothing" ||
	test_ok "--no-xattrs warns of nothing"

# --- layers written by umoci 0.4.7: no end-of-archive blocks ----------------------
if command -v umoci >/dev/null; then
	mkdir -p usrc/etc && echo hello >usrc/etc/greeting && printf 'x%.0s' {1..700} >usrc/etc/odd
	umoci init --layout ulay && umoci new --image ulay:t &&
		umoci insert --image ulay:t usrc/etc /etc >/dev/null 2>&1 || test_not_ok "umoci makes a layout"
	expect_output "hoist validate reads umoci's layers" "PASS: ulay" hoist validate --layout ulay
	expect_success "skopeo pushes umoci's image" skopeo --insecure-policy copy -q \
		--dest-tls-verify=false oci:ulay:t "docker://$A/umoci/img:t"
	expect_success "hoist export of umoci's image" hoist export "$A/umoci/img:t" umoci.tar
	expect_output "the files are there" "etc/greeting etc/odd" \
		sh -c "tar -tf umoci.tar | grep -E '^etc/.' | sort | tr '\n' ' ' | sed 's/ \$//'"
	expect_output "the content is right" "hello" tar -xOf umoci.tar etc/greeting
else
	test_not_ok "umoci is installed"
fi

test_done
