#!/usr/bin/env bash
# t0800-export: `hoist export`, `hoist unpack`, `hoist validate` and
# `hoist index list` against a real docker-registry: a multi-layer image with
# whiteouts and an opaque directory built with umoci (compared with
# `umoci unpack`), a docker-save tarball on stdin, hostile layers built by
# hand (path traversal, absolute names, symlink escapes across layers, a
# hard link out of the root, a huge header), corrupt layouts and an index
# whose platform disagrees with its image's config.
. "$(dirname "$0")/../lib.sh"
test_init

registry_start || { test_not_ok "registry starts"; test_done; }
R=$REGISTRY

# --- hostile layers -------------------------------------------------------------
# mkimage NAME SPEC...: an image whose layers are tars made by mktar.py from
# SPECs (one layer each, entries separated by ';', a "gz|" or "zst|" prefix
# compresses it), in the layout evil-NAME, pushed as $R/evil/NAME:1
cat >mktar.py <<'EOF'
import io, sys, tarfile
out, spec = sys.argv[1], sys.argv[2]
t = tarfile.open(out, 'w', format=tarfile.PAX_FORMAT)
for ent in spec.split(';'):
    kind, name, *rest = ent.split(':')
    ti = tarfile.TarInfo(name)
    ti.mtime = 1
    data = b''
    if kind == 'f':
        data = (name + '\n').encode(); ti.size = len(data)
        ti.mode = int(rest[0], 8) if rest else 0o644
        if '.wh.' in name:
            data = b''; ti.size = 0
    elif kind == 'd':
        ti.type = tarfile.DIRTYPE; ti.mode = int(rest[0], 8) if rest else 0o755
    elif kind == 's':
        ti.type = tarfile.SYMTYPE; ti.linkname = rest[0]
    elif kind == 'h':
        ti.type = tarfile.LNKTYPE; ti.linkname = rest[0]
    elif kind == 'F':
        ti.name = 'a' * int(name); data = b'x'; ti.size = 1
    t.addfile(ti, io.BytesIO(data))
t.close()
EOF
mkimage() {
	local name=$1 d=evil-$1 i=0 spec diffs=() layers=()
	shift
	rm -rf "$d"
	mkdir -p "$d/blobs/sha256"
	for spec in "$@"; do
		local comp= mt=application/vnd.oci.image.layer.v1.tar h dh
		case $spec in
		gz\|*) comp=gz; spec=${spec#gz|}; mt=$mt+gzip ;;
		zst\|*) comp=zst; spec=${spec#zst|}; mt=$mt+zstd ;;
		esac
		python3 mktar.py "$d/l$i.tar" "$spec" || return 1
		dh=$(sha256sum "$d/l$i.tar" | cut -d' ' -f1)
		case $comp in
		gz) gzip -n "$d/l$i.tar" && mv "$d/l$i.tar.gz" "$d/l$i.tar" ;;
		zst) zstd -q --rm "$d/l$i.tar" && mv "$d/l$i.tar.zst" "$d/l$i.tar" ;;
		esac
		h=$(sha256sum "$d/l$i.tar" | cut -d' ' -f1)
		mv "$d/l$i.tar" "$d/blobs/sha256/$h"
		diffs+=("\"sha256:$dh\"")
		layers+=("{\"mediaType\":\"$mt\",\"digest\":\"sha256:$h\",\"size\":$(stat -c %s "$d/blobs/sha256/$h")}")
		i=$((i + 1))
	done
	local IFS=,
	printf '{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[%s]},"config":{}}' \
		"${diffs[*]}" >"$d/config"
	local ch cs
	ch=$(sha256sum "$d/config" | cut -d' ' -f1)
	cs=$(stat -c %s "$d/config")
	mv "$d/config" "$d/blobs/sha256/$ch"
	printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[%s]}' \
		"$ch" "$cs" "${layers[*]}" >"$d/manifest"
	local mh ms
	mh=$(sha256sum "$d/manifest" | cut -d' ' -f1)
	ms=$(stat -c %s "$d/manifest")
	mv "$d/manifest" "$d/blobs/sha256/$mh"
	printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"annotations":{"org.opencontainers.image.ref.name":"t"}}]}' \
		"$mh" "$ms" >"$d/index.json"
	printf '{"imageLayoutVersion":"1.0.0"}' >"$d/oci-layout"
	push_oci "$d:t" "$R/evil/$name:1" || { cat .lib/skopeo.err >&2; return 1; }
}
# --- a multi-layer image with whiteouts and an opaque directory, one layer of
# each compression (umoci 0.4.7's own layers end without the tar padding, which
# hoist's reader refuses, so the image is built by hand and umoci only reads it)
mkimage multi \
	'd:etc;f:etc/one;f:etc/keep:600;d:usr;d:usr/bin;f:usr/bin/tool:755;s:usr/link:../etc/one;d:opt;d:opt/a;f:opt/a/old;d:gone;f:gone/f;d:ro:555;f:ro/f' \
	'gz|d:opt;f:opt/.wh..wh..opq;f:opt/new' \
	'f:.wh.gone;f:etc/.wh.one' \
	'gz|f:etc/two' || test_not_ok "build the multi-layer image"
# the same with zstd layers (umoci 0.4.7 and docker-archive know no zstd)
mkimage zmulti \
	'zst|d:etc;f:etc/one;f:etc/keep:600;d:usr;d:usr/bin;f:usr/bin/tool:755;s:usr/link:../etc/one;d:opt;d:opt/a;f:opt/a/old;d:gone;f:gone/f;d:ro:555;f:ro/f' \
	'zst|d:opt;f:opt/.wh..wh..opq;f:opt/new' \
	'f:.wh.gone;f:etc/.wh.one' \
	'zst|f:etc/two' || test_not_ok "build the zstd image"
L=evil-multi
umoci unpack --rootless --image $L:t bundle >/dev/null 2>&1 || test_not_ok "umoci unpack"
DM=$(skopeo inspect --tls-verify=false --format '{{.Digest}}' "docker://$R/evil/multi:1")

# --- export ---------------------------------------------------------------------
expect_success "export to a file" hoist export "$R/evil/multi:1" out.tar
compare "export: the paths umoci unpack gives" <(cd bundle/rootfs && find . -mindepth 1 -printf '%P\n' | sort) \
	<(tarlist out.tar | cut -d' ' -f1)
tarlist out.tar | grep -q '^usr/link l' && test_ok "export: the symlink is there" ||
	test_not_ok "export: the symlink is there"
tarlist out.tar | grep -q '^etc/keep f 600' && test_ok "export: modes are kept" ||
	test_not_ok "export: modes are kept" "$(tarlist out.tar)"
hoist export "$R/evil/multi:1" >stdout.tar 2>/dev/null && cmp -s out.tar stdout.tar &&
	test_ok "export to stdout gives the same bytes" || test_not_ok "export to stdout gives the same bytes"
expect_success "export again, offline, by digest: from the cache" \
	hoist --offline export "$R/evil/multi@$DM" offline.tar
cmp -s out.tar offline.tar && test_ok "offline export is identical" || test_not_ok "offline export is identical"
skopeo --insecure-policy copy --quiet oci:$L:t docker-archive:img.tar:x/multi:1 >/dev/null 2>&1 ||
	test_not_ok "skopeo writes a docker-archive"
expect_success "export of zstd layers" hoist export "$R/evil/zmulti:1" z.tar
cmp -s out.tar z.tar && test_ok "zstd layers export the same bytes as gzip/plain ones" ||
	test_not_ok "zstd layers export the same bytes as gzip/plain ones"
expect_success "export - reads a docker-save tarball from stdin" sh -c "\"\$HOIST\" export - stdin.tar <img.tar"
compare "export -: same listing" <(tarlist out.tar) <(tarlist stdin.tar)
gzip -c out.tar >/dev/null
expect_code 1 "export of a missing image fails" hoist export "$R/x/none:1" none.tar
[[ ! -e none.tar ]] && test_ok "no partial tar is left" || test_not_ok "no partial tar is left"
expect_code 2 "export: too many arguments" hoist export a b c

# --- unpack ---------------------------------------------------------------------
expect_success "unpack into a new directory" hoist unpack "$R/evil/multi:1" rootfs
compare "unpack: paths, types and modes as umoci unpack" <(tree bundle/rootfs) <(tree rootfs)
[[ $(readlink rootfs/usr/link) == ../etc/one ]] && test_ok "unpack: symlink target" ||
	test_not_ok "unpack: symlink target"
[[ -f rootfs/opt/new && ! -e rootfs/opt/a ]] && test_ok "unpack: opaque directory" ||
	test_not_ok "unpack: opaque directory"
expect_code 2 "unpack into a non-empty directory is refused" hoist unpack "$R/evil/multi:1" rootfs
expect_success "unpack - from a docker-save tarball" sh -c "\"\$HOIST\" unpack - rootfs2 <img.tar"
compare "unpack -: same tree" <(tree rootfs) <(tree rootfs2)

# snapshot: every path of the test directory outside the unpack targets
snapshot() { (cd "$TEST_DIR" && find . -path ./home -prune -o -path './u-*' -prune -o -path ./.lib -prune -o -print | sort); }
mkdir -p outside
# hostile_case NAME WANT_EXPORT WANT_UNPACK: exit statuses (0 or 1)
hostile_case() {
	local name=$1 we=$2 wu=$3 before after
	before=$(snapshot)
	expect_code "$we" "hostile $name: export" hoist export "$R/evil/$name:1" "u-$name.tar"
	expect_code "$wu" "hostile $name: unpack" hoist unpack "$R/evil/$name:1" "u-$name"
	after=$(snapshot)
	[[ $before == "$after" ]] && test_ok "hostile $name: nothing written outside" ||
		test_not_ok "hostile $name: nothing written outside" "$(diff <(echo "$before") <(echo "$after"))"
}
mkimage dotdot 'f:../../outside/x' || test_not_ok "seed dotdot"
hostile_case dotdot 1 1
grep -q "climbs out of the root" "$ERR" && test_ok "dotdot: the error says why" ||
	test_not_ok "dotdot: the error says why" "$(cat "$ERR")"
mkimage abs 'f:/etc/x' || test_not_ok "seed abs"
hostile_case abs 0 0
[[ -f u-abs/etc/x ]] && test_ok "absolute name lands inside DIR" || test_not_ok "absolute name lands inside DIR"
tarlist u-abs.tar | grep -q '^etc/x f' && test_ok "absolute name is made relative in export" ||
	test_not_ok "absolute name is made relative in export"
mkimage symroot 's:a:/' "f:a$TEST_DIR/outside/pwned" || test_not_ok "seed symroot"
# valgrind knows no openat2(2): hoist then walks by hand and refuses any
# symlink among the parents
if [[ ${HOIST_VALGRIND-} == 1 ]]; then
	hostile_case symroot 0 1
	grep -q "goes through the symlink 'a'" "$ERR" && test_ok "without openat2 a symlink parent is refused" ||
		test_not_ok "without openat2 a symlink parent is refused" "$(cat "$ERR")"
else
	hostile_case symroot 0 0
	[[ -f u-symroot$TEST_DIR/outside/pwned && -L u-symroot/a ]] &&
		test_ok "symlink to / from an earlier layer resolves inside DIR" ||
		test_not_ok "symlink to / from an earlier layer resolves inside DIR" "$(cd u-symroot && find . | head)"
fi
tarlist u-symroot.tar | grep -q '^a l' && test_not_ok "export: no symlink over a directory" ||
	test_ok "export: no symlink over a directory"
mkimage symrel "s:b:../../../../../..$TEST_DIR/outside" 'f:b/pwned' || test_not_ok "seed symrel"
hostile_case symrel 0 1
tarlist u-symrel.tar | grep -q '^b l' && test_not_ok "export: the symlink under an upper layer's path is dropped" ||
	test_ok "export: the symlink under an upper layer's path is dropped"
mkimage samelayer "s:c:$TEST_DIR/outside;f:c/pwned" || test_not_ok "seed samelayer"
hostile_case samelayer 0 1
[[ $(tarlist u-samelayer.tar | cut -d' ' -f1,2) == "c l" ]] && test_ok "export: an entry below a symlink of its layer is dropped" ||
	test_not_ok "export: an entry below a symlink of its layer is dropped" "$(tarlist u-samelayer.tar)"
grep -qE "cannot open the directory 'c'|goes through the symlink 'c'" "$ERR" && test_ok "unpack: a dangling symlink parent is an error" ||
	test_not_ok "unpack: a dangling symlink parent is an error" "$(cat "$ERR")"
mkimage hardlink 'f:f' 'h:h:../../outside/x' || test_not_ok "seed hardlink"
hostile_case hardlink 1 1
mkimage whdotdot 'f:x' 'f:.wh...' || test_not_ok "seed whdotdot"
hostile_case whdotdot 1 1
grep -q "bad whiteout" "$ERR" && test_ok "whdotdot: a whiteout of '..' is refused" ||
	test_not_ok "whdotdot: a whiteout of '..' is refused" "$(cat "$ERR")"
mkimage rootopq 'f:lower' 'f:.wh..wh..opq;f:upper' || test_not_ok "seed rootopq"
hostile_case rootopq 0 0
[[ $(tarlist u-rootopq.tar | cut -d' ' -f1) == upper && $(cd u-rootopq && ls) == upper ]] &&
	test_ok "an opaque root hides the lower layers" || test_not_ok "an opaque root hides the lower layers"
mkimage huge 'F:100000' || test_not_ok "seed huge"
hostile_case huge 1 1

# --- validate ---------------------------------------------------------------------
expect_output "validate: a good image passes" "PASS: $R/evil/multi:1" hoist validate "$R/evil/multi:1"
expect_success "validate --fast" hoist validate --fast "$R/evil/multi:1"
expect_output "validate --layout" "PASS: $L" hoist validate --layout $L
expect_output "validate --tarball" "PASS: img.tar" hoist validate --tarball img.tar
cp -r $L Lbad
cfg=$(jq -r '.config.digest' "Lbad/blobs/sha256/$(jq -r '.manifests[0].digest' Lbad/index.json | cut -d: -f2)" | cut -d: -f2)
lay=$(jq -r '.layers[1].digest' "Lbad/blobs/sha256/$(jq -r '.manifests[0].digest' Lbad/index.json | cut -d: -f2)" | cut -d: -f2)
chmod u+w "Lbad/blobs/sha256/$cfg" "Lbad/blobs/sha256/$lay"
printf ' ' >>"Lbad/blobs/sha256/$cfg"
printf 'garbage' | dd of="Lbad/blobs/sha256/$lay" bs=1 seek=20 conv=notrunc 2>/dev/null
expect_code 1 "validate: a corrupt layout fails" hoist validate --layout Lbad
[[ $(grep -c '^FAIL: ' "$OUT") -ge 2 ]] && test_ok "validate: every problem is listed" ||
	test_not_ok "validate: every problem is listed" "$(cat "$OUT")"
grep -q "layers\[1\]" "$OUT" && test_ok "validate: the corrupt layer is named" ||
	test_not_ok "validate: the corrupt layer is named" "$(cat "$OUT")"
# a wrong diff_id
mkimage baddiff 'f:x' || test_not_ok "seed baddiff"
expect_success "validate: a good hand-made image" hoist validate "$R/evil/baddiff:1"
d=evil-baddiff
m=$(jq -r '.manifests[0].digest' $d/index.json | cut -d: -f2)
c=$(jq -r '.config.digest' $d/blobs/sha256/$m | cut -d: -f2)
jq -c '.rootfs.diff_ids[0] = "sha256:0000000000000000000000000000000000000000000000000000000000000000"' \
	$d/blobs/sha256/$c >$d/newcfg
nc=$(sha256sum $d/newcfg | cut -d' ' -f1)
mv $d/newcfg $d/blobs/sha256/$nc
jq -c --arg d "sha256:$nc" --argjson s "$(stat -c %s $d/blobs/sha256/$nc)" '.config.digest = $d | .config.size = $s' \
	$d/blobs/sha256/$m >$d/newman
nm=$(sha256sum $d/newman | cut -d' ' -f1)
mv $d/newman $d/blobs/sha256/$nm
jq -c --arg d "sha256:$nm" --argjson s "$(stat -c %s $d/blobs/sha256/$nm)" '.manifests[0].digest = $d | .manifests[0].size = $s' \
	$d/index.json >$d/i && mv $d/i $d/index.json
push_oci "$d:t" "$R/evil/baddiff:2" || test_not_ok "push baddiff:2"
expect_code 1 "validate: a wrong diff_id fails" hoist validate "$R/evil/baddiff:2"
grep -q "diff_id" "$OUT" && test_ok "validate: the diff_id problem is named" ||
	test_not_ok "validate: the diff_id problem is named" "$(cat "$OUT")"
expect_success "validate --fast does not read layers" hoist validate --fast "$R/evil/baddiff:2"
expect_code 2 "validate: usage" hoist validate

# --- an index: index list, platform consistency ----------------------------------
mkdir -p IDX
cp -r $L/blobs $L/oci-layout IDX/
md=$(jq -r '.manifests[0].digest' $L/index.json)
ms=$(jq -r '.manifests[0].size' $L/index.json)
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"%s","size":%s,"platform":{"architecture":"amd64","os":"linux"}},{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"%s","size":%s,"platform":{"architecture":"arm64","os":"linux","variant":"v8"}}]}' \
	"$md" "$ms" "$md" "$ms" >idx.json
ih=$(sha256sum idx.json | cut -d' ' -f1)
chmod -R u+w IDX
cp idx.json "IDX/blobs/sha256/$ih"
printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.index.v1+json","digest":"sha256:%s","size":%s,"annotations":{"org.opencontainers.image.ref.name":"t"}}]}' \
	"$ih" "$(stat -c %s idx.json)" >IDX/index.json
push_oci IDX:t "$R/x/idx:1" --all || test_not_ok "push the index" "$(cat .lib/skopeo.err)"
# (skopeo may re-encode the children on the way: ask the registry what it has)
expect_output "index list from the registry" "$(skopeo inspect --tls-verify=false --raw "docker://$R/x/idx:1" |
	jq -r '.manifests[] | "\(.digest)\t\(.mediaType)\t\(.platform.os)/\(.platform.architecture)\(if .platform.variant then "/" + .platform.variant else "" end)"')" \
	hoist index list "$R/x/idx:1"
expect_output "index list from a layout" "$(printf '%s\t%s\t%s\n%s\t%s\t%s' \
	"$md" application/vnd.oci.image.manifest.v1+json linux/amd64 \
	"$md" application/vnd.oci.image.manifest.v1+json linux/arm64/v8)" hoist index list IDX
expect_code 1 "index list of an image fails" hoist index list "$R/evil/multi:1"
expect_code 1 "validate: the arm64 entry's config says amd64" hoist validate "$R/x/idx:1"
[[ $(grep -c '^FAIL: ' "$OUT") == 1 ]] && grep -q "platform linux/arm64/v8" "$OUT" &&
	test_ok "validate: one platform problem" || test_not_ok "validate: one platform problem" "$(cat "$OUT")"
expect_success "export of an index picks linux/amd64" hoist export "$R/x/idx:1" idx.tar
cmp -s idx.tar out.tar && test_ok "same filesystem" || test_not_ok "same filesystem"

# --- a corrupt layer in the registry's storage ------------------------------------
mkimage corrupt 'f:corrupt-me;f:more' || test_not_ok "seed corrupt"
# (skopeo gzips plain layers on the way: ask the registry for the digest)
lh=$(skopeo inspect --tls-verify=false --raw "docker://$R/evil/corrupt:1" | jq -r '.layers[0].digest' | cut -d: -f2)
bp=$REGISTRY_DIR/data/docker/registry/v2/blobs/sha256/${lh:0:2}/$lh/data
if [[ -f $bp ]]; then
	printf 'X' | dd of="$bp" bs=1 seek=30 conv=notrunc 2>/dev/null
	expect_code 1 "validate: a corrupt layer in the registry" hoist validate "$R/evil/corrupt:1"
	grep -q "layers\[0\]" "$OUT" && test_ok "validate: the corrupt registry layer is named" ||
		test_not_ok "validate: the corrupt registry layer is named" "$(cat "$OUT")"
	expect_code 1 "export of a corrupt layer fails" hoist export "$R/evil/corrupt:1" corrupt.tar
	[[ ! -e corrupt.tar ]] && test_ok "no tar is left" || test_not_ok "no tar is left"
else
	test_not_ok "the registry stores blobs where expected" "$bp"
fi

test_done
