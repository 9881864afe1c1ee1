#!/usr/bin/env bash
# t0820-flatten-rebase: `hoist flatten` and `hoist rebase` against a real
# docker-registry.  Flatten: a 3-layer image with whiteouts and an opaque
# directory (the flattened layer lists what `hoist export` gives, `umoci
# unpack` agrees, the config has one diff_id and one history entry), the
# default target (back to the tag), by digest, the --output forms, an index
# child by child.  Rebase: an image built with `hoist build --base OLD` moved
# onto NEW (NEW's files in `umoci unpack`, no layer downloaded: checked in
# the registry's log), the base annotations as defaults, crane's spellings,
# the refusal when OLD is not a prefix, and an index rebased per platform.
. "$(dirname "$0")/../lib.sh"
test_init

registry_start || { test_not_ok "registry starts"; test_done; }
R=$REGISTRY
sk() { skopeo inspect --tls-verify=false "$@" >"$OUT" 2>"$ERR"; }
# layer_gets FROM-LINE DIGEST...: GETs of these blobs the registry logged
# after line FROM-LINE
layer_gets() {
	local from=$1 n=0 d
	shift
	for d in "$@"; do
		n=$((n + $(tail -n +"$from" "$REGISTRY_LOG" | grep -c "\"GET /v2/[^ ]*/blobs/$d " || true)))
	done
	echo "$n"
}

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
        data = (rest[1] if len(rest) > 1 else name + '\n').encode(); ti.size = len(data)
        ti.mode = int(rest[0], 8) if rest and rest[0] else 0o644
        if '.wh.' in name:
            data = b''; ti.size = 0
    elif kind == 'd':
        ti.type = tarfile.DIRTYPE; ti.mode = int(rest[0], 8) if rest else 0o755
    elif kind == 's':
        ti.type = tarfile.SYMTYPE; ti.linkname = rest[0]
    t.addfile(ti, io.BytesIO(data))
t.close()
EOF
# mkimage LAYOUT ARCH SPEC...: an OCI image of one layer per SPEC (entries
# separated by ';', a "gz|" prefix compresses the layer) with one history
# entry per layer, added to LAYOUT as "t"; prints the manifest digest
mkimage() {
	local d=$1 arch=$2 i=0 spec diffs=() layers=() hist=()
	shift 2
	rm -rf "$d"
	mkdir -p "$d/blobs/sha256"
	for spec in "$@"; do
		local mt=application/vnd.oci.image.layer.v1.tar h dh gz=
		case $spec in gz\|*) gz=1; spec=${spec#gz|}; mt=$mt+gzip ;; esac
		python3 mktar.py "$d/l$i.tar" "$spec" || return 1
		dh=$(sha256sum "$d/l$i.tar" | cut -d' ' -f1)
		[[ -n $gz ]] && gzip -n "$d/l$i.tar" && mv "$d/l$i.tar.gz" "$d/l$i.tar"
		h=$(sha256sum "$d/l$i.tar" | cut -d' ' -f1)
		mv "$d/l$i.tar" "$d/blobs/sha256/$h"
		diffs+=("\"sha256:$dh\"")
		layers+=("{\"mediaType\":\"$mt\",\"digest\":\"sha256:$h\",\"size\":$(stat -c %s "$d/blobs/sha256/$h")}")
		hist+=("{\"created\":\"2020-01-01T00:00:00Z\",\"created_by\":\"layer $i of $d\"}")
		i=$((i + 1))
	done
	local IFS=,
	printf '{"architecture":"%s","os":"linux","config":{"Env":["A=1"],"Cmd":["/bin/sh"]},"created":"2020-01-01T00:00:00Z","history":[%s],"rootfs":{"type":"layers","diff_ids":[%s]}}' \
		"$arch" "${hist[*]}" "${diffs[*]}" >"$d/config"
	local ch cs mh ms
	ch=$(sha256sum "$d/config" | cut -d' ' -f1)
	cs=$(stat -c %s "$d/config")
	mv "$d/config" "$d/blobs/sha256/$ch"
	printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[%s]}' \
		"$ch" "$cs" "${layers[*]}" >"$d/manifest"
	mh=$(sha256sum "$d/manifest" | cut -d' ' -f1)
	ms=$(stat -c %s "$d/manifest")
	mv "$d/manifest" "$d/blobs/sha256/$mh"
	printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"platform":{"architecture":"%s","os":"linux"},"annotations":{"org.opencontainers.image.ref.name":"t"}}]}' \
		"$mh" "$ms" "$arch" >"$d/index.json"
	printf '{"imageLayoutVersion":"1.0.0"}' >"$d/oci-layout"
	echo "sha256:$mh"
}
# mkindex LAYOUT SRC-LAYOUT...: an OCI index of the images "t" of the
# SRC-LAYOUTs (blobs copied), as LAYOUT's "t"
mkindex() {
	local d=$1 s ents=() m
	shift
	rm -rf "$d"
	mkdir -p "$d/blobs/sha256"
	for s in "$@"; do
		cp -n "$s"/blobs/sha256/* "$d/blobs/sha256/"
		ents+=("$(jq -c '.manifests[0] | del(.annotations)' "$s/index.json")")
	done
	local IFS=,
	printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[%s]}' \
		"${ents[*]}" >"$d/idx"
	m=$(sha256sum "$d/idx" | cut -d' ' -f1)
	printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.index.v1+json","digest":"sha256:%s","size":%s,"annotations":{"org.opencontainers.image.ref.name":"t"}}]}' \
		"$m" "$(stat -c %s "$d/idx")" >"$d/index.json"
	mv "$d/idx" "$d/blobs/sha256/$m"
	printf '{"imageLayoutVersion":"1.0.0"}' >"$d/oci-layout"
}

# ===== flatten ====================================================================
mkimage multi amd64 \
	'd:etc;f:etc/one;f:etc/keep:600;d:usr;d:usr/bin;f:usr/bin/tool:755;s:usr/link:../etc/one;d:opt;d:opt/a;f:opt/a/old;d:gone;f:gone/f' \
	'gz|d:opt;f:opt/.wh..wh..opq;f:opt/new' \
	'gz|f:.wh.gone;f:etc/.wh.one;f:etc/two' >multi.digest || test_not_ok "make the 3-layer image"
push_oci multi:t "$R/flat/multi:1" && push_oci multi:t "$R/flat/multi:2" ||
	test_not_ok "push the 3-layer image" "$(cat .lib/skopeo.err)"
DM=$(sk_digest "$R/flat/multi:1")
umoci unpack --rootless --image multi:t src-bundle >/dev/null 2>&1 || test_not_ok "umoci unpack of the source"

expect_success "flatten -t" hoist flatten "$R/flat/multi:1" -t "$R/flat/multi:flat"
F=$(cat "$OUT")
[[ $F == "$R/flat/multi@sha256:"* ]] && test_ok "flatten prints REPOSITORY@DIGEST" ||
	test_not_ok "flatten prints REPOSITORY@DIGEST" "$F"
expect_output "the tag names what was printed" "${F#*@}" sk_digest "$R/flat/multi:flat"
sk "docker://$R/flat/multi:flat" && jq -e '.Layers | length == 1' "$OUT" >/dev/null &&
	test_ok "skopeo inspect: one layer" || test_not_ok "skopeo inspect: one layer" "$(cat "$OUT" "$ERR")"
sk --raw "docker://$R/flat/multi:1" && jq -e '.layers | length == 3' "$OUT" >/dev/null &&
	test_ok "the source is untouched" || test_not_ok "the source is untouched"
sk --config --raw "docker://$R/flat/multi:flat" && cp "$OUT" flat-config.json
jq -e --arg d "$DM" '(.rootfs.diff_ids | length == 1) and (.history | length == 1) and
	.history[0].created_by == "hoist flatten \($d)" and
	(.history[0].comment | fromjson | length == 3) and .config.Env == ["A=1"] and
	.created == "2020-01-01T00:00:00Z"' flat-config.json >/dev/null &&
	test_ok "config: one diff_id, one history entry keeping the old history, the rest kept" ||
	test_not_ok "config of the flattened image" "$(cat flat-config.json)"
expect_success "export the source" hoist export "$R/flat/multi:1" src.tar
expect_success "export the flattened image" hoist export "$R/flat/multi:flat" flat.tar
compare "the flattened layer lists what export gives" <(tarlist src.tar) <(tarlist flat.tar)
pull_oci "$R/flat/multi:flat" flat-lay:t || test_not_ok "skopeo copies the flattened image"
layer=$(jq -r '.layers[0].digest' "flat-lay/blobs/sha256/$(jq -r '.manifests[0].digest' flat-lay/index.json | cut -d: -f2)")
compare "the layer itself: the same entries" <(tarlist src.tar) <(tarlist "flat-lay/blobs/sha256/${layer#sha256:}")
diffid=$(jq -r '.rootfs.diff_ids[0]' flat-config.json)
[[ sha256:$(gzip -dc "flat-lay/blobs/sha256/${layer#sha256:}" | sha256sum | cut -d' ' -f1) == "$diffid" ]] &&
	test_ok "diff_id is the uncompressed layer's" || test_not_ok "diff_id is the uncompressed layer's"
umoci unpack --rootless --image flat-lay:t flat-bundle >/dev/null 2>&1 || test_not_ok "umoci unpack of the flattened image"
compare "umoci unpack: the same tree as the source's" <(tree src-bundle/rootfs) <(tree flat-bundle/rootfs)
expect_success "validate the flattened image" hoist validate "$R/flat/multi:flat"
sk --raw "docker://$R/flat/multi:flat" && cp "$OUT" flat-manifest.json
expect_success "OCI schemas: the flattened manifest and config" \
	/usr/bin/python3 "$TOP/tests/schema-validate.py" manifest flat-manifest.json
expect_success "  ... config" /usr/bin/python3 "$TOP/tests/schema-validate.py" config flat-config.json

expect_success "flatten again gives the same digest" hoist flatten "$R/flat/multi:1" -t "$R/flat/multi:flat2"
[[ ${F#*@} == "$(cut -d@ -f2 "$OUT")" ]] && test_ok "flatten is reproducible" ||
	test_not_ok "flatten is reproducible" "$F $(cat "$OUT")"
expect_success "flatten without -t pushes back to the tag" hoist flatten "$R/flat/multi:2"
expect_output "  ... tag 2 is the flattened image" "${F#*@}" sk_digest "$R/flat/multi:2"
expect_success "flatten by digest" hoist flatten "$R/flat/multi@$DM"
[[ $(cat "$OUT") == "$F" ]] && test_ok "  ... pushed by digest, printed" || test_not_ok "  ... by digest" "$(cat "$OUT")"
expect_output "  ... no tag moved" "$DM" sk_digest "$R/flat/multi:1"

expect_success "flatten -o oci:DIR" hoist flatten "$R/flat/multi:1" -o oci:out-lay
umoci unpack --rootless --image out-lay:latest out-bundle >/dev/null 2>&1 &&
	compare "  ... umoci unpacks it the same" <(tree src-bundle/rootfs) <(tree out-bundle/rootfs) ||
	test_not_ok "  ... umoci unpack of the oci: output"
expect_success "flatten -o FILE (docker-save tarball)" hoist flatten "$R/flat/multi:1" -o flat-save.tar
expect_success "  ... skopeo reads it" skopeo inspect docker-archive:flat-save.tar
jq -e '.Layers | length == 1' "$OUT" >/dev/null && test_ok "  ... one layer" || test_not_ok "  ... one layer"
expect_success "flatten -o cache -t NAME" hoist flatten "$R/flat/multi:1" -o cache -t "$R/flat/cached:1"
expect_success "  ... exported offline from the cache" hoist --offline export "$R/flat/cached:1" cached.tar
compare "  ... same files" <(tarlist src.tar) <(tarlist cached.tar)
expect_code 2 "flatten -o cache without -t is a usage error" hoist flatten "$R/flat/multi:1" -o cache
expect_success "flatten --compression zstd" hoist flatten "$R/flat/multi:1" --compression zstd -t "$R/flat/multi:zst"
sk --raw "docker://$R/flat/multi:zst" && jq -e '.layers[0].mediaType | endswith("+zstd")' "$OUT" >/dev/null &&
	test_ok "  ... a zstd layer" || test_not_ok "  ... a zstd layer" "$(cat "$OUT")"
expect_code 1 "flatten of a missing image fails" hoist flatten "$R/flat/none:1"
expect_code 2 "flatten without an image" hoist flatten

# --- an index, child by child ------------------------------------------------------
mkimage arm arm64 'd:etc;f:etc/a:644:arm-a' 'gz|f:etc/b:644:arm-b;f:etc/.wh.a' >/dev/null
mkimage amd amd64 'd:etc;f:etc/a:644:amd-a' 'gz|f:etc/c:644:amd-c' >/dev/null
mkindex idx amd arm
push_oci idx:t "$R/flat/idx:1" --all || test_not_ok "push the index" "$(cat .lib/skopeo.err)"
expect_success "flatten an index" hoist flatten "$R/flat/idx:1" -t "$R/flat/idx:flat"
sk --raw "docker://$R/flat/idx:flat" && cp "$OUT" flat-idx.json
jq -e '(.manifests | length == 2) and ([.manifests[].platform.architecture] == ["amd64", "arm64"])' \
	flat-idx.json >/dev/null && test_ok "  ... an index of two, platforms kept" ||
	test_not_ok "  ... an index of two" "$(cat flat-idx.json)"
expect_success "  ... OCI schema: the index" /usr/bin/python3 "$TOP/tests/schema-validate.py" index flat-idx.json
for a in amd64 arm64; do
	sk --override-arch $a "docker://$R/flat/idx:flat" && jq -e '.Layers | length == 1' "$OUT" >/dev/null &&
		test_ok "  ... $a: one layer" || test_not_ok "  ... $a: one layer" "$(cat "$OUT" "$ERR")"
done
expect_success "  ... export of arm64" hoist --platform linux/arm64 export "$R/flat/idx:flat" arm.tar
[[ $(tarlist arm.tar | cut -d' ' -f1 | tr '\n' ' ') == "etc etc/b " ]] &&
	test_ok "  ... arm64 whiteout applied" || test_not_ok "  ... arm64 whiteout applied" "$(tarlist arm.tar)"
expect_success "flatten --platform picks one image" hoist --platform linux/arm64 flatten "$R/flat/idx:1" -t "$R/flat/idx:arm"
sk --raw "docker://$R/flat/idx:arm" && jq -e '.layers | length == 1' "$OUT" >/dev/null &&
	test_ok "  ... an image" || test_not_ok "  ... an image" "$(cat "$OUT")"

# ===== rebase =====================================================================
mkimage old amd64 'gz|d:etc;f:etc/os-release:644:old' >/dev/null
mkimage new amd64 'gz|d:etc;f:etc/os-release:644:new' 'gz|d:usr;f:usr/new:644:new' >/dev/null
push_oci old:t "$R/base/os:1" && push_oci old:t "$R/base/os:old" && push_oci new:t "$R/base/os:2" &&
	push_oci new:t "$R/other/new:1" || test_not_ok "push the bases" "$(cat .lib/skopeo.err)"
OLD_D=$(sk_digest "$R/base/os:old")
NEW_D=$(sk_digest "$R/base/os:2")
mkdir ctx && echo app >ctx/app.txt
# built into a layout, pushed by skopeo (which keeps the manifest's bytes)
expect_success "build the app on the old base" hoist build --base "$R/base/os:1" --add ctx/app.txt:/app/app.txt \
	--output oci:app-lay
APP_D=$(cat "$OUT")
for t in 1 2 3; do
	push_oci app-lay:latest "$R/app/one:$t" || test_not_ok "push the app as $t" "$(cat .lib/skopeo.err)"
done
expect_output "  ... skopeo kept its digest" "$APP_D" sk_digest "$R/app/one:1"

# --- explicit bases, crane's spellings --------------------------------------------
mark=$(($(wc -l <"$REGISTRY_LOG") + 1))
expect_success "rebase --old_base --new_base -t" hoist rebase "$R/app/one:1" --old_base "$R/base/os:old" \
	--new_base "$R/base/os:2" -t "$R/app/one:rebased"
RB=$(cat "$OUT")
[[ $RB == "$R/app/one@sha256:"* ]] && test_ok "rebase prints REPOSITORY@DIGEST" ||
	test_not_ok "rebase prints REPOSITORY@DIGEST" "$RB"
expect_output "  ... the tag names it" "${RB#*@}" sk_digest "$R/app/one:rebased"
sk --raw "docker://$R/app/one:rebased" && cp "$OUT" rb.json
sk --raw "docker://$R/base/os:2" && cp "$OUT" new.json
sk --raw "docker://$R/app/one:1" && cp "$OUT" app.json
jq -e --slurpfile n new.json --slurpfile a app.json \
	'[.layers[].digest] == ([$n[0].layers[].digest] + [$a[0].layers[-1].digest])' rb.json >/dev/null &&
	test_ok "  ... layers: the new base's, then the image's own" ||
	test_not_ok "  ... layers" "$(cat rb.json)"
jq -e --arg r "$R/base/os:2" --arg d "$NEW_D" \
	'.annotations["org.opencontainers.image.base.name"] == $r and .annotations["org.opencontainers.image.base.digest"] == $d' \
	rb.json >/dev/null && test_ok "  ... base annotations name the new base" ||
	test_not_ok "  ... base annotations" "$(cat rb.json)"
n=$(layer_gets "$mark" $(jq -r '.layers[].digest' rb.json))
[[ $n == 0 ]] && test_ok "  ... no layer was downloaded (registry log)" ||
	test_not_ok "  ... no layer was downloaded" "$n layer GETs"
sk --config --raw "docker://$R/app/one:rebased" && cp "$OUT" rb-config.json
jq -e '(.rootfs.diff_ids | length == 3) and (.history | length == 3) and
	.history[0].created_by == "layer 0 of new" and .history[1].created_by == "layer 1 of new" and
	(.history[2].created_by | test("app.txt"))' rb-config.json >/dev/null &&
	test_ok "  ... config: new base's history and diff_ids, then the image's" ||
	test_not_ok "  ... config" "$(cat rb-config.json)"
expect_success "  ... skopeo inspect accepts it" sk "docker://$R/app/one:rebased"
expect_success "  ... OCI schemas: manifest" /usr/bin/python3 "$TOP/tests/schema-validate.py" manifest rb.json
expect_success "  ... OCI schemas: config" /usr/bin/python3 "$TOP/tests/schema-validate.py" config rb-config.json
pull_oci "$R/app/one:rebased" rb-lay:t || test_not_ok "  ... skopeo copies it" "$(cat .lib/skopeo.err)"
if umoci unpack --rootless --image rb-lay:t rb-bundle >/dev/null 2>&1; then
	[[ $(cat rb-bundle/rootfs/etc/os-release) == new && -f rb-bundle/rootfs/usr/new &&
		$(cat rb-bundle/rootfs/app/app.txt) == app ]] &&
		test_ok "  ... umoci unpack: the new base's files and the app's" ||
		test_not_ok "  ... umoci unpack contents" "$(cd rb-bundle/rootfs && find .)"
else
	test_not_ok "  ... umoci unpack of the rebased image"
fi
expect_success "  ... validate" hoist validate "$R/app/one:rebased"

# --- defaults from the annotations: the base's tag moved --------------------------
push_oci new:t "$R/base/os:1" || test_not_ok "move base/os:1 to the new base"
mark=$(($(wc -l <"$REGISTRY_LOG") + 1))
expect_success "rebase with the bases from the annotations (back to the tag)" hoist rebase "$R/app/one:2"
RD=$(cat "$OUT")
expect_output "  ... tag 2 moved" "${RD#*@}" sk_digest "$R/app/one:2"
sk --raw "docker://$R/app/one:2" && cp "$OUT" rd.json
jq -e --slurpfile r rb.json '.layers == $r[0].layers' rd.json >/dev/null &&
	test_ok "  ... the same layers as with explicit bases" || test_not_ok "  ... layers" "$(cat rd.json)"
jq -e --arg r "$R/base/os:1" --arg d "$NEW_D" \
	'.annotations["org.opencontainers.image.base.name"] == $r and .annotations["org.opencontainers.image.base.digest"] == $d' \
	rd.json >/dev/null && test_ok "  ... annotations: the name re-resolved, its new digest" ||
	test_not_ok "  ... annotations" "$(cat rd.json)"
n=$(layer_gets "$mark" $(jq -r '.layers[].digest' rd.json))
[[ $n == 0 ]] && test_ok "  ... no layer was downloaded" || test_not_ok "  ... no layer was downloaded" "$n"
expect_success "rebase by digest pushes by digest" hoist rebase "$R/app/one@$APP_D" --old-base "$R/base/os@$OLD_D" \
	--new-base "$R/base/os:2"
[[ $(cat "$OUT") == "$R/app/one@${RB#*@}" ]] && test_ok "  ... the same image as with -t" ||
	test_not_ok "  ... by digest" "$(cat "$OUT") vs $RB"
expect_output "  ... tag 3 did not move" "$APP_D" sk_digest "$R/app/one:3"

# --- refusals ------------------------------------------------------------------------
expect_code 1 "rebase onto an old base that is not a prefix is refused" hoist rebase "$R/app/one:3" \
	--old-base "$R/other/new:1" --new-base "$R/base/os:2" -t "$R/app/one:bad"
grep -q "is not based on" "$ERR" && test_ok "  ... the error says why" ||
	test_not_ok "  ... the error says why" "$(cat "$ERR")"
expect_code 1 "  ... nothing pushed" sk_digest "$R/app/one:bad"
expect_code 2 "rebase of an image without base annotations needs --new-base" hoist rebase "$R/flat/multi:1"
grep -q "new-base" "$ERR" && test_ok "  ... the error names the option" ||
	test_not_ok "  ... the error names the option" "$(cat "$ERR")"
expect_code 2 "--old-base and --old_base together" hoist rebase "$R/app/one:3" --old-base a --old_base b

# --- another registry: blobs streamed, not stored ------------------------------------
if registry_start --name two; then
	R2=$REGISTRY_two
	expect_success "rebase to another registry" hoist rebase "$R/app/one:3" --old-base "$R/base/os@$OLD_D" \
		--new-base "$R/base/os:2" -t "$R2/moved/app:1"
	expect_output "  ... same digest as on the first registry" "${RB#*@}" sk_digest "$R2/moved/app:1"
	pull_oci "$R2/moved/app:1" r2-lay:t && test_ok "  ... its blobs are all there" ||
		test_not_ok "  ... its blobs are all there" "$(cat .lib/skopeo.err)"
	REGISTRY_LOG=$REGISTRY_LOG_default
fi

# --- an index, per platform -------------------------------------------------------------
mkimage oldarm arm64 'gz|d:etc;f:etc/os-release:644:old-arm' >/dev/null
mkimage newarm arm64 'gz|d:etc;f:etc/os-release:644:new-arm' >/dev/null
mkimage apparm arm64 'gz|d:etc;f:etc/os-release:644:old-arm' 'gz|f:app:644:app-arm' >/dev/null
mkimage appamd amd64 'gz|d:etc;f:etc/os-release:644:old' 'gz|f:app:644:app-amd' >/dev/null
mkindex oldidx old oldarm && mkindex newidx new newarm && mkindex appidx appamd apparm
push_oci oldidx:t "$R/mp/base:old" --all && push_oci newidx:t "$R/mp/base:new" --all &&
	push_oci appidx:t "$R/mp/app:1" --all || test_not_ok "push the indexes" "$(cat .lib/skopeo.err)"
expect_success "rebase an index child by child" hoist rebase "$R/mp/app:1" --old-base "$R/mp/base:old" \
	--new-base "$R/mp/base:new" -t "$R/mp/app:rebased"
for a in amd64 arm64; do
	skopeo --insecure-policy --override-arch $a copy --quiet --src-tls-verify=false \
		"docker://$R/mp/app:rebased" "oci:mp-$a:t" >/dev/null 2>&1
	rm -rf "mp-$a-b"
	if umoci unpack --rootless --image "mp-$a:t" "mp-$a-b" >/dev/null 2>&1; then
		want=new-arm
		[[ $a == amd64 ]] && want=new
		[[ $(cat "mp-$a-b/rootfs/etc/os-release") == "$want" && -f mp-$a-b/rootfs/app ]] &&
			test_ok "  ... $a: its new base's files and the app" ||
			test_not_ok "  ... $a contents" "$(cat "mp-$a-b/rootfs/etc/os-release")"
	else
		test_not_ok "  ... $a: umoci unpack"
	fi
done

test_done
