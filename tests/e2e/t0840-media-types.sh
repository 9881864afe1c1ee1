#!/usr/bin/env bash
# t0840-media-types: the media types of both families and of artifacts.
# Docker's uncompressed and foreign layer types are layers to validate,
# export, unpack and flatten; what hoist writes on a Docker base keeps one
# family (OCI throughout when a zstd layer or annotations need it, Docker's
# plain-tar type otherwise) and skopeo and umoci accept it; a manifest that
# mixes the families fails validation; OCI 1.1 artifacts, buildx-style
# attestations, cosign-style signatures, an index naming an artifact and
# Docker 1.10's application/octet-stream config validate, and a wrong digest
# or size on their blobs does not.  Every fixture is made here, by hand.
. "$(dirname "$0")/../lib.sh"
test_init

sk() { skopeo inspect --tls-verify=false "$@"; }

# mkimg.py LAYOUT NAME < SPEC: adds a manifest (or an index) described by
# the JSON SPEC to LAYOUT under NAME; prints "DIGEST SIZE MEDIATYPE".
#   {"mediaType": M (null: none), "artifactType": T, "annotations": {...},
#    "subject": {descriptor}, "platform": {...} (for the index.json entry),
#    "config": {"mediaType": M, "json": {...} | "data": "text"},
#    "layers": [{"mediaType": M, "files": {"path": "text"}, "compress": "gzip"|"zstd"}
#               | {"mediaType": M, "data": "text"}],
#    "manifests": [descriptor...]                 (an index instead)}
# A layer may also set "size" or "digest" to lie about its blob.  A config
# "json" whose rootfs is "auto" gets the diff_ids of the tar layers, in order.
cat >mkimg.py <<'EOF'
import gzip, hashlib, io, json, os, subprocess, sys, tarfile
lay, name = sys.argv[1], sys.argv[2]
spec = json.load(sys.stdin)
os.makedirs(lay + '/blobs/sha256', exist_ok=True)
if not os.path.exists(lay + '/oci-layout'):
    open(lay + '/oci-layout', 'w').write('{"imageLayoutVersion":"1.0.0"}')
def put(b):
    h = hashlib.sha256(b).hexdigest()
    open('%s/blobs/sha256/%s' % (lay, h), 'wb').write(b)
    return 'sha256:' + h
def desc(mt, b, extra=None):
    d = {'mediaType': mt, 'digest': put(b), 'size': len(b)}
    d.update(extra or {})
    return d
def mktar(files):
    out = io.BytesIO()
    t = tarfile.open(fileobj=out, mode='w', format=tarfile.PAX_FORMAT)
    for p, text in sorted(files.items()):
        ti = tarfile.TarInfo(p); data = text.encode(); ti.size = len(data); ti.mtime = 1
        t.addfile(ti, io.BytesIO(data))
    t.close()
    return out.getvalue()
if 'manifests' in spec:
    doc = {'schemaVersion': 2}
    if spec.get('mediaType'): doc['mediaType'] = spec['mediaType']
    doc['manifests'] = spec['manifests']
else:
    diff_ids, layers = [], []
    for l in spec.get('layers', []):
        if 'files' in l:
            raw = mktar(l['files'])
            diff_ids.append('sha256:' + hashlib.sha256(raw).hexdigest())
            if l.get('compress') == 'gzip':
                raw = gzip.compress(raw, mtime=0)
            elif l.get('compress') == 'zstd':
                raw = subprocess.run(['zstd', '-q', '-c'], input=raw, capture_output=True,
                                     check=True).stdout
        else:
            raw = l['data'].encode()
        d = desc(l['mediaType'], raw)
        for k in ('size', 'digest', 'annotations', 'urls'):
            if k in l: d[k] = l[k]
        layers.append(d)
    c = spec['config']
    if 'json' in c:
        cj = c['json']
        if cj.get('rootfs') == 'auto':
            cj['rootfs'] = {'type': 'layers', 'diff_ids': diff_ids}
        cb = json.dumps(cj, separators=(',', ':')).encode()
    else:
        cb = c['data'].encode()
    doc = {'schemaVersion': 2}
    if spec.get('mediaType'): doc['mediaType'] = spec['mediaType']
    if spec.get('artifactType'): doc['artifactType'] = spec['artifactType']
    doc['config'] = desc(c['mediaType'], cb)
    doc['layers'] = layers
    if spec.get('subject'): doc['subject'] = spec['subject']
if spec.get('annotations'): doc['annotations'] = spec['annotations']
mb = json.dumps(doc, separators=(',', ':')).encode()
mt = spec.get('mediaType') or ('application/vnd.oci.image.index.v1+json' if 'manifests' in spec
                               else 'application/vnd.oci.image.manifest.v1+json')
ent = desc(mt, mb, {'annotations': {'org.opencontainers.image.ref.name': name}})
if spec.get('platform'): ent['platform'] = spec['platform']
try:
    idx = json.load(open(lay + '/index.json'))
except FileNotFoundError:
    idx = {'schemaVersion': 2, 'manifests': []}
idx['manifests'] = [m for m in idx['manifests']
                    if m.get('annotations', {}).get('org.opencontainers.image.ref.name') != name]
idx['manifests'].append(ent)
open(lay + '/index.json', 'w').write(json.dumps(idx))
print(ent['digest'], ent['size'], mt)
EOF
mkimg() { python3 mkimg.py "$@"; }

OCI_M=application/vnd.oci.image.manifest.v1+json
OCI_I=application/vnd.oci.image.index.v1+json
OCI_C=application/vnd.oci.image.config.v1+json
OCI_L=application/vnd.oci.image.layer.v1.tar
OCI_EMPTY=application/vnd.oci.empty.v1+json
D_M=application/vnd.docker.distribution.manifest.v2+json
D_C=application/vnd.docker.container.image.v1+json
D_TAR=application/vnd.docker.image.rootfs.diff.tar
D_GZ=application/vnd.docker.image.rootfs.diff.tar.gzip
CFG='{"architecture":"amd64","os":"linux","config":{"Cmd":["/bin/x"]},"rootfs":"auto"}'

registry_start || { test_not_ok "registry starts"; test_done; }
R=$REGISTRY

# --- Docker's uncompressed layer type -------------------------------------------
mkimg L docker-tar <<EOF >/dev/null || test_not_ok "make the Docker image"
{"mediaType": "$D_M", "config": {"mediaType": "$D_C", "json": $CFG},
 "layers": [{"mediaType": "$D_GZ", "files": {"etc/base": "gz\n"}, "compress": "gzip"},
	    {"mediaType": "$D_TAR", "files": {"etc/plain": "plain\n"}}]}
EOF
mkimg L docker-foreign <<EOF >/dev/null || test_not_ok "make the foreign-layer image"
{"mediaType": "$D_M", "config": {"mediaType": "$D_C", "json": $CFG},
 "layers": [{"mediaType": "application/vnd.docker.image.rootfs.foreign.diff.tar",
	     "files": {"f": "foreign\n"}}]}
EOF
expect_output "validate: a Docker image with a diff.tar layer" "PASS: L" \
	hoist validate --layout L
expect_success "push it" hoist push L@docker-tar "$R/docker/tar:1"
expect_output "validate it in the registry" "PASS: $R/docker/tar:1" \
	hoist validate "$R/docker/tar:1"
expect_success "export it" hoist export "$R/docker/tar:1" dt.tar
[[ $(tarlist dt.tar | cut -d' ' -f1 | tr '\n' ' ') == "etc/base etc/plain " ]] &&
	test_ok "export: both layers' files" || test_not_ok "export: both layers' files" "$(tarlist dt.tar)"
expect_success "unpack it" hoist unpack "$R/docker/tar:1" dt
[[ $(cat dt/etc/plain) == plain ]] && test_ok "unpack: the plain layer's file" ||
	test_not_ok "unpack: the plain layer's file"
expect_success "flatten it" hoist flatten "$R/docker/tar:1" -t "$R/docker/tar:flat"
expect_success "its manifest" sk --raw "docker://$R/docker/tar:flat"
jq -e --arg m "$D_M" --arg l "$D_GZ" '.mediaType == $m and (.layers | length) == 1 and
	.layers[0].mediaType == $l and .annotations == null' "$OUT" >/dev/null &&
	test_ok "flatten: one Docker gzip layer in a Docker manifest" ||
	test_not_ok "flatten: one Docker gzip layer" "$(cat "$OUT")"
expect_success "flatten --compression none" hoist flatten "$R/docker/tar:1" --compression none \
	-t "$R/docker/tar:flatnone"
expect_success "its manifest" sk --raw "docker://$R/docker/tar:flatnone"
jq -e --arg m "$D_M" --arg l "$D_TAR" '.mediaType == $m and .layers[0].mediaType == $l' "$OUT" \
	>/dev/null && test_ok "flatten --compression none: Docker's diff.tar type" ||
	test_not_ok "flatten --compression none: Docker's diff.tar type" "$(cat "$OUT")"
expect_success "flatten --compression zstd" hoist flatten "$R/docker/tar:1" --compression zstd \
	-t "$R/docker/tar:flatzstd"
expect_success "its manifest" sk --raw "docker://$R/docker/tar:flatzstd"
jq -e --arg m "$OCI_M" --arg c "$OCI_C" --arg l "$OCI_L+zstd" '.mediaType == $m and
	.config.mediaType == $c and .layers[0].mediaType == $l' "$OUT" >/dev/null &&
	test_ok "flatten --compression zstd: OCI media types throughout" ||
	test_not_ok "flatten --compression zstd: OCI media types" "$(cat "$OUT")"

# --- what hoist writes on a Docker base ---------------------------------------------
BASE=$R/docker/tar:1
echo "new file" >new.txt
# check_written TAG MANIFEST-TYPE CONFIG-TYPE LAYER-TYPE...: the manifest of
# $R/out/img:TAG has these types, no annotations when Docker's, and skopeo
# copies it into a layout
check_written() {
	local tag=$1 mt=$2 ct=$3 want
	shift 3
	want=$(printf '%s\n' "$@" | jq -R . | jq -sc .)
	if ! sk --raw "docker://$R/out/img:$tag" >"m-$tag.json" 2>/dev/null; then
		test_not_ok "$tag: skopeo inspect --raw"
		return
	fi
	jq -e --arg m "$mt" --arg c "$ct" --argjson l "$want" '.mediaType == $m and
		.config.mediaType == $c and ([.layers[].mediaType] == $l) and
		(if $m == "application/vnd.docker.distribution.manifest.v2+json"
		 then .annotations == null else true end)' "m-$tag.json" >/dev/null &&
		test_ok "$tag: media types ${mt##*/}, ${*##*/}" ||
		test_not_ok "$tag: media types" "$(cat "m-$tag.json")"
	expect_success "$tag: skopeo inspect accepts it" sk "docker://$R/out/img:$tag"
	expect_success "$tag: skopeo copy accepts it" skopeo copy --src-tls-verify=false \
		"docker://$R/out/img:$tag" "oci:sk-$tag:x"
	expect_output "$tag: hoist validate passes" "PASS: $R/out/img:$tag" \
		hoist validate "$R/out/img:$tag"
}
expect_success "build --compression zstd on a Docker base" hoist build --base "$BASE" \
	--add new.txt:/new.txt --compression zstd -t "$R/out/img:zstd"
check_written zstd "$OCI_M" "$OCI_C" "$OCI_L+gzip" "$OCI_L" "$OCI_L+zstd"
expect_success "build --compression none on a Docker base" hoist build --base "$BASE" \
	--add new.txt:/new.txt --compression none -t "$R/out/img:none"
check_written none "$D_M" "$D_C" "$D_GZ" "$D_TAR" "$D_TAR"
expect_success "umoci unpacks it" umoci unpack --rootless --image sk-none:x bundle-none
[[ $(cat bundle-none/rootfs/new.txt) == "new file" && -f bundle-none/rootfs/etc/plain ]] &&
	test_ok "umoci: the new file over the base" || test_not_ok "umoci: the new file over the base"
expect_success "build on a Docker base" hoist build --base "$BASE" --add new.txt:/new.txt \
	-t "$R/out/img:gzip"
check_written gzip "$D_M" "$D_C" "$D_GZ" "$D_TAR" "$D_GZ"
expect_success "build --annotation on a Docker base" hoist build --base "$BASE" \
	--add new.txt:/new.txt --annotation org.example.a=b -t "$R/out/img:annot"
check_written annot "$OCI_M" "$OCI_C" "$OCI_L+gzip" "$OCI_L" "$OCI_L+gzip"
jq -e '.annotations["org.example.a"] == "b" and
	.annotations["org.opencontainers.image.base.name"] != null' m-annot.json >/dev/null &&
	test_ok "build --annotation: the annotations, in an OCI manifest" ||
	test_not_ok "build --annotation: the annotations" "$(cat m-annot.json)"

tar --mtime=@0 --owner=0 --group=0 -cf plain.tar new.txt
expect_success "append a plain tar, --compression none, to a Docker base" hoist append \
	-b "$BASE" -f plain.tar --compression none -t "$R/out/img:append-none"
check_written append-none "$D_M" "$D_C" "$D_GZ" "$D_TAR" "$D_TAR"
expect_success "append a zstd tar to a Docker base" sh -c 'zstd -q -c plain.tar >plain.tar.zst'
expect_success "append it" hoist append -b "$BASE" -f plain.tar.zst -t "$R/out/img:append-zstd"
check_written append-zstd "$OCI_M" "$OCI_C" "$OCI_L+gzip" "$OCI_L" "$OCI_L+zstd"
expect_success "append --set-base-image-annotations to a Docker base" hoist append \
	-b "$BASE" -f plain.tar --set-base-image-annotations -t "$R/out/img:append-annot"
check_written append-annot "$OCI_M" "$OCI_C" "$OCI_L+gzip" "$OCI_L" "$OCI_L+gzip"
expect_success "mutate --annotation of a Docker image" hoist mutate "$BASE" \
	--annotation org.example.m=1 -t "$R/out/img:mutate-annot"
check_written mutate-annot "$OCI_M" "$OCI_C" "$OCI_L+gzip" "$OCI_L"
expect_success "mutate --env of a Docker image" hoist mutate "$BASE" -e A=1 \
	-t "$R/out/img:mutate-env"
check_written mutate-env "$D_M" "$D_C" "$D_GZ" "$D_TAR"

# a Docker manifest list: a zstd layer makes it an OCI index of OCI images,
# an index annotation an OCI index (its images stay Docker's)
D_LIST=application/vnd.docker.distribution.manifest.list.v2+json
read -r DT DT_SIZE < <(jq -r '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == "docker-tar") |
	"\(.digest) \(.size)"' L/index.json)
mkimg L docker-list <<EOF >/dev/null || test_not_ok "make the Docker list"
{"mediaType": "$D_LIST", "manifests": [{"mediaType": "$D_M", "digest": "$DT", "size": $DT_SIZE,
  "platform": {"architecture": "amd64", "os": "linux"}}]}
EOF
expect_success "push the Docker list" hoist push L@docker-list "$R/docker/list:1"
expect_success "append a zstd tar to a Docker list" hoist append -b "$R/docker/list:1" \
	-f plain.tar.zst -t "$R/out/list:zstd"
expect_success "its index" sk --raw "docker://$R/out/list:zstd"
jq -e --arg i "$OCI_I" --arg m "$OCI_M" '.mediaType == $i and .manifests[0].mediaType == $m' \
	"$OUT" >/dev/null && test_ok "list + zstd: an OCI index of an OCI image" ||
	test_not_ok "list + zstd: an OCI index" "$(cat "$OUT")"
expect_output "list + zstd: hoist validate passes" "PASS: $R/out/list:zstd" \
	hoist validate "$R/out/list:zstd"
expect_success "mutate --annotation of a Docker list" hoist mutate "$R/docker/list:1" \
	--annotation org.example.i=1 -t "$R/out/list:annot"
expect_success "its index" sk --raw "docker://$R/out/list:annot"
jq -e --arg i "$OCI_I" --arg m "$D_M" '.mediaType == $i and .manifests[0].mediaType == $m and
	.annotations["org.example.i"] == "1"' "$OUT" >/dev/null &&
	test_ok "list + annotation: an OCI index, its image Docker's" ||
	test_not_ok "list + annotation: an OCI index" "$(cat "$OUT")"
expect_success "mutate --env of a Docker list" hoist mutate "$R/docker/list:1" -e A=1 \
	-t "$R/out/list:env"
expect_success "its index" sk --raw "docker://$R/out/list:env"
jq -e --arg i "$D_LIST" '.mediaType == $i and .annotations == null' "$OUT" >/dev/null &&
	test_ok "list + env: still a Docker list" || test_not_ok "list + env: a Docker list" "$(cat "$OUT")"

# --- a manifest that mixes the families -------------------------------------------
mkimg MIX mixed <<EOF >/dev/null || test_not_ok "make the mixed image"
{"mediaType": "$D_M", "config": {"mediaType": "$D_C", "json": $CFG},
 "layers": [{"mediaType": "$D_GZ", "files": {"a": "a\n"}, "compress": "gzip"},
	    {"mediaType": "$OCI_L+zstd", "files": {"b": "b\n"}, "compress": "zstd"}]}
EOF
expect_code 1 "validate: OCI layer types in a Docker manifest fail" hoist validate --layout MIX
grep -q "layers\[1\]: the OCI media type '$OCI_L+zstd' in a Docker schema 2 manifest" "$OUT" &&
	[[ $(grep -c '^FAIL' "$OUT") == 1 ]] && test_ok "validate: the mixed layer is named" ||
	test_not_ok "validate: the mixed layer is named" "$(cat "$OUT")"
mkimg MIX2 mixed <<EOF >/dev/null || test_not_ok "make the other mixed image"
{"mediaType": "$OCI_M", "config": {"mediaType": "$D_C", "json": $CFG},
 "layers": [{"mediaType": "$OCI_L", "files": {"a": "a\n"}}]}
EOF
expect_code 1 "validate: a Docker config in an OCI manifest fails" hoist validate --layout MIX2
grep -q "config: the Docker media type '$D_C' in an OCI manifest" "$OUT" &&
	test_ok "validate: the mixed config is named" ||
	test_not_ok "validate: the mixed config is named" "$(cat "$OUT")"

# --- OCI 1.1 artifacts, attestations, signatures -------------------------------------
read -r IMG IMG_SIZE _ < <(mkimg A image <<EOF
{"mediaType": "$OCI_M", "config": {"mediaType": "$OCI_C", "json": $CFG},
 "layers": [{"mediaType": "$OCI_L+gzip", "files": {"bin/x": "x\n"}, "compress": "gzip"}]}
EOF
)
SUBJ="{\"mediaType\": \"$OCI_M\", \"digest\": \"$IMG\", \"size\": $IMG_SIZE}"
read -r SBOM SBOM_SIZE _ < <(mkimg A sbom <<EOF
{"mediaType": "$OCI_M", "artifactType": "application/spdx+json", "subject": $SUBJ,
 "config": {"mediaType": "$OCI_EMPTY", "data": "{}"},
 "layers": [{"mediaType": "application/spdx+json", "data": "{\"spdxVersion\":\"SPDX-2.3\"}"}]}
EOF
)
# buildx: the image and an attestation manifest (image config type, in-toto
# layers, platform unknown/unknown) in one index
read -r ATT ATT_SIZE _ < <(mkimg A att <<EOF
{"mediaType": "$OCI_M", "config": {"mediaType": "$OCI_C",
  "json": {"architecture": "unknown", "os": "unknown", "config": {}, "rootfs": {"type": "layers",
	   "diff_ids": ["sha256:54bdb8b46b2fb4c0f5c4b2a1fa4fcab2f0e0c18c3e6d1e6cd3e0c4e5a1b2c3d4"]}}},
 "layers": [{"mediaType": "application/vnd.in-toto+json", "data": "{\"_type\":\"https://in-toto.io/Statement/v0.1\"}",
	     "annotations": {"in-toto.io/predicate-type": "https://spdx.dev/Document"}}]}
EOF
)
mkimg A buildx <<EOF >/dev/null || test_not_ok "make the buildx index"
{"mediaType": "$OCI_I", "manifests": [
  {"mediaType": "$OCI_M", "digest": "$IMG", "size": $IMG_SIZE,
   "platform": {"architecture": "amd64", "os": "linux"}},
  {"mediaType": "$OCI_M", "digest": "$ATT", "size": $ATT_SIZE,
   "platform": {"architecture": "unknown", "os": "unknown"},
   "annotations": {"vnd.docker.reference.digest": "$IMG",
		   "vnd.docker.reference.type": "attestation-manifest"}}]}
EOF
# a referrers-style index naming the artifact, a cosign-style signature
# (the image config type with empty os and architecture), Docker 1.10's
# octet-stream config, and an index.json entry of a type hoist does not know
mkimg A referrers <<EOF >/dev/null || test_not_ok "make the referrers index"
{"mediaType": "$OCI_I", "manifests": [
  {"mediaType": "$OCI_M", "digest": "$SBOM", "size": $SBOM_SIZE,
   "artifactType": "application/spdx+json"}]}
EOF
mkimg A cosign <<EOF >/dev/null || test_not_ok "make the signature"
{"mediaType": "$OCI_M", "config": {"mediaType": "$OCI_C", "json": {"architecture": "", "os": "",
  "created": "0001-01-01T00:00:00Z", "config": {}, "rootfs": "auto"}},
 "layers": [{"mediaType": "application/vnd.dev.cosign.simplesigning.v1+json",
	     "data": "{\"critical\":{}}",
	     "annotations": {"dev.cosignproject.cosign/signature": "MEUC"}}]}
EOF
mkimg A docker110 <<EOF >/dev/null || test_not_ok "make the Docker 1.10 image"
{"mediaType": "$D_M", "config": {"mediaType": "application/octet-stream", "json": $CFG},
 "layers": [{"mediaType": "$D_GZ", "files": {"old": "1.10\n"}, "compress": "gzip"}]}
EOF
mkimg A helm <<EOF >/dev/null || test_not_ok "make the helm chart"
{"mediaType": "$OCI_M", "config": {"mediaType": "application/vnd.cncf.helm.config.v1+json",
  "data": "{\"name\":\"x\",\"version\":\"1.0.0\"}"},
 "layers": [{"mediaType": "application/vnd.cncf.helm.chart.content.v1.tar+gzip", "data": "not a tar"}]}
EOF
cp A/blobs/sha256/${IMG#sha256:} unknown.json
jq -c --arg d "$IMG" --argjson s "$IMG_SIZE" '.manifests += [{mediaType: "application/vnd.oci.descriptor.v1+json",
	digest: $d, size: $s, annotations: {"org.opencontainers.image.ref.name": "unknown"}}]' A/index.json >i.json &&
	mv i.json A/index.json
expect_output "validate: artifacts, attestations, signatures, Docker 1.10 config" "PASS: A" \
	hoist validate --layout A
expect_output "validate --fast too" "PASS: A" hoist validate --fast --layout A
for ref in sbom buildx referrers cosign docker110; do
	expect_success "push $ref" hoist push "A@$ref" "$R/art/$ref:1"
done
expect_output "validate the attestation index in the registry" "PASS: $R/art/buildx:1" \
	hoist validate "$R/art/buildx:1"
expect_output "validate the artifact in the registry" "PASS: $R/art/sbom:1" \
	hoist validate "$R/art/sbom:1"
expect_output "validate the referrers index in the registry" "PASS: $R/art/referrers:1" \
	hoist validate "$R/art/referrers:1"
expect_output "validate the Docker 1.10 image in the registry" "PASS: $R/art/docker110:1" \
	hoist validate "$R/art/docker110:1"
expect_success "export the Docker 1.10 image" hoist export "$R/art/docker110:1" old.tar
expect_success "index append: a signature and a Docker 1.10 image" hoist index append \
	-m "$R/art/cosign:1" -m "$R/art/docker110:1" -t "$R/art/ix:1"
expect_success "the index" sk --raw "docker://$R/art/ix:1"
jq -e '.manifests[0].platform == null and .manifests[1].platform.os == "linux"' "$OUT" \
	>/dev/null && test_ok "index append: no platform for the artifact, the old config's for the image" ||
	test_not_ok "index append: platforms" "$(cat "$OUT")"
expect_code 1 "export of a signature is refused" hoist export "$R/art/cosign:1" sig.tar
grep -q "is an artifact (config media type .*), not an image" "$ERR" &&
	test_ok "export: says it is an artifact" || test_not_ok "export: says it is an artifact" "$(cat "$ERR")"

# rebase of a Docker image onto an OCI base: the new base's layers get
# Docker's names, the manifest no annotations
expect_success "push an OCI base" hoist push A@image "$R/art/oci-base:1"
expect_success "rebase a Docker image onto an OCI base" hoist rebase "$R/out/img:gzip" \
	--old-base "$BASE" --new-base "$R/art/oci-base:1" -t "$R/out/img:rebased"
expect_success "its manifest" sk --raw "docker://$R/out/img:rebased"
jq -e --arg m "$D_M" --arg c "$D_C" --arg l "$D_GZ" '.mediaType == $m and .config.mediaType == $c and
	[.layers[].mediaType] == [$l, $l] and .annotations == null' "$OUT" >/dev/null &&
	test_ok "rebase: Docker types throughout, no annotations" ||
	test_not_ok "rebase: Docker types throughout" "$(cat "$OUT")"
expect_output "rebase: hoist validate passes" "PASS: $R/out/img:rebased" \
	hoist validate "$R/out/img:rebased"

# wrong bytes, wrong size, no artifactType
cp -r A B
chmod -R u+w B
spdx=$(jq -r '.layers[0].digest' "B/blobs/sha256/${SBOM#sha256:}")
printf '{"spdxVersion":"SPDX-2.2"}' >"B/blobs/sha256/${spdx#sha256:}"
intoto=$(jq -r '.layers[0].digest' "B/blobs/sha256/${ATT#sha256:}")
printf 'x' >>"B/blobs/sha256/${intoto#sha256:}"
expect_code 1 "validate: a corrupt SBOM and attestation fail" hoist validate --layout B
grep -q "layers\[0\] $spdx: the content's digest is" "$OUT" &&
	grep -q "layers\[0\] $intoto: .* bytes, the descriptor says" "$OUT" &&
	test_ok "validate: the SBOM's digest and the attestation's size are named" ||
	test_not_ok "validate: the corrupt blobs are named" "$(cat "$OUT")"
expect_code 1 "validate --fast: the attestation's size" hoist validate --fast --layout B
grep -q "layers\[0\] $intoto: [0-9]* bytes, the descriptor says" "$OUT" && test_ok "validate --fast names it" ||
	test_not_ok "validate --fast names it" "$(cat "$OUT")"
mkimg C noat <<EOF >/dev/null || test_not_ok "make the artifact without artifactType"
{"mediaType": "$OCI_M", "config": {"mediaType": "$OCI_EMPTY", "data": "{}"},
 "layers": [{"mediaType": "application/spdx+json", "data": "{}"}]}
EOF
expect_code 1 "validate: an empty config without artifactType fails" hoist validate --layout C
grep -q "the config is the empty descriptor but the manifest has no artifactType" "$OUT" &&
	test_ok "validate: artifactType is asked for" || test_not_ok "validate: artifactType" "$(cat "$OUT")"
mkimg D lie <<EOF >/dev/null || test_not_ok "make the artifact with a wrong size"
{"mediaType": "$OCI_M", "artifactType": "application/spdx+json",
 "config": {"mediaType": "$OCI_EMPTY", "data": "{}"},
 "layers": [{"mediaType": "application/spdx+json", "data": "{}", "size": 3}]}
EOF
expect_code 1 "validate: a wrong size on an SBOM fails" hoist validate --layout D
grep -q "2 bytes, the descriptor says 3" "$OUT" && test_ok "validate: the size is named" ||
	test_not_ok "validate: the size is named" "$(cat "$OUT")"

# --- one report names each finding once; a blob a layout leaves out is a note ---------
mkimg E img <<EOF >/dev/null || test_not_ok "make the image with a lying layer"
{"mediaType": "$OCI_M", "config": {"mediaType": "$OCI_C", "json": $CFG},
 "layers": [{"mediaType": "$OCI_L", "files": {"a": "a\n"}, "size": 4096}]}
EOF
read -r img_d img_s < <(jq -r '.manifests[0] | "\(.digest) \(.size)"' E/index.json)
mkimg E idx <<EOF >/dev/null || test_not_ok "make the index over it"
{"manifests": [{"mediaType": "$OCI_M", "digest": "$img_d", "size": $img_s,
		"platform": {"architecture": "amd64", "os": "linux"}}]}
EOF
expect_code 1 "validate: an image named directly and through an index" hoist validate --layout E
(($(grep -c '^FAIL: ' "$OUT") == 1)) && grep -q "bytes, the descriptor says 4096" "$OUT" &&
	test_ok "validate: the finding is reported once" ||
	test_not_ok "validate: the finding is reported once" "$(cat "$OUT")"
mkimg F img <<EOF >/dev/null || test_not_ok "make the image for the external-store check"
{"mediaType": "$OCI_M", "config": {"mediaType": "$OCI_C", "json": $CFG},
 "layers": [{"mediaType": "$OCI_L", "files": {"a": "a\n"}}]}
EOF
f_m=$(jq -r '.manifests[0].digest' F/index.json)
lay_d=$(jq -r '.layers[0].digest' "F/blobs/sha256/${f_m#sha256:}")
rm "F/blobs/sha256/${lay_d#sha256:}"
expect_success "validate: a layout that leaves a layer to another store passes" \
	hoist validate --layout F
grep -q "^NOTE: .*layers\[0\] $lay_d: not in the layout, so not checked" "$OUT" &&
	grep -q '^PASS: F' "$OUT" && ! grep -q '^FAIL' "$OUT" &&
	test_ok "validate: the missing blob is a note, not a failure (the layout spec allows it)" ||
	test_not_ok "validate: the missing blob is a note" "$(cat "$OUT")"
test_done
