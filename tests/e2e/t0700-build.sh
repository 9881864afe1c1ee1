#!/usr/bin/env bash
# t0700-build: `hoist build` from flags and Containerfiles, against a real
# registry: reproducible digests, umoci/skopeo views of the result, every
# supported Containerfile instruction, RUN refused, an offline build with the
# registry stopped, docker-archive output, symlinks kept as links, and a push
# whose base layers are mounted, not uploaded.
. "$(dirname "$0")/../lib.sh"
test_init

sk() { skopeo inspect --tls-verify=false "$@"; }
blob_writes() { grep -cE '"(PATCH|PUT) /v2/[^ ]*/blobs/|"POST /v2/[^ ]*/blobs/uploads/ ' "$1"; }

registry_start || { test_not_ok "registry starts"; test_done; }
R=$REGISTRY
seed_image library/base:1 || { test_not_ok "seed_image"; test_done; }
BASE_DIGEST=$SEED_DIGEST
BASE=$R/library/base@$BASE_DIGEST

# --- a context -------------------------------------------------------------
mkctx() { # DIR UMASK
	(umask "$2"
	 mkdir -p "$1/bin" "$1/etc/app" "$1/skip"
	 printf '#!/bin/sh\necho hi\n' >"$1/bin/run"
	 chmod +x "$1/bin/run"
	 echo "key=value" >"$1/etc/app/conf"
	 echo secret >"$1/skip/secret"
	 echo data >"$1/data.txt"
	 ln -s /etc/shadow "$1/outside"
	 printf 'skip\n*.log\n' >"$1/.dockerignore"
	 echo log >"$1/x.log")
}
mkctx ctx1 022
# the other machine: same relative path, another directory, umask and mtimes
mkctx m2/ctx1 077
touch -d '2001-02-03 04:05:06' m2/ctx1/bin/run m2/ctx1/data.txt m2/ctx1/etc/app/conf
touch -d '2011-02-03 04:05:06' ctx1/bin/run

# --- flags: reproducible, into layouts -------------------------------------
build_flags() { # CTX OUT
	hoist build --base "$BASE" --add "$1/bin:/usr/local/bin" --add "$1/data.txt:/srv/" \
		--add "$1/outside:/srv/outside" --chown 1000:1000 \
		--entrypoint '["/usr/local/bin/run"]' --cmd '["--flag"]' --env A=1 --env B=two \
		--workdir /srv --user 1000 --label org.example.k=v --annotation org.example.a=b \
		--expose 8080 --volume /data --stop-signal SIGTERM --output "oci:$2"
}
expect_success "build from flags" build_flags ctx1 out1
d1=$(cat "$OUT")
build_m2() { (cd m2 && build_flags ctx1 ../out2); }
expect_success "same build from another checkout (other umask, mtimes)" build_m2
d2=$(cat "$OUT")
[[ -n $d1 && $d1 == "$d2" ]] && test_ok "reproducible: one digest" ||
	test_not_ok "reproducible: one digest" "$d1 != $d2"
expect_success "again: same digest" build_flags ctx1 out3
[[ $(cat "$OUT") == "$d1" ]] && test_ok "rebuild gives the same digest" ||
	test_not_ok "rebuild gives the same digest" "$(cat "$OUT") != $d1"

expect_success "skopeo inspect --config" sk --config oci:out1:latest
cp "$OUT" cfg.json
jq -e '.config.Entrypoint == ["/usr/local/bin/run"] and .config.Cmd == ["--flag"]' cfg.json >/dev/null &&
	test_ok "config: entrypoint and cmd" || test_not_ok "config: entrypoint and cmd" "$(cat cfg.json)"
jq -e '(.config.Env | index("A=1")) != null and (.config.Env | index("B=two")) != null' cfg.json >/dev/null &&
	test_ok "config: env" || test_not_ok "config: env" "$(jq -c .config.Env cfg.json)"
jq -e '.config.Labels["org.example.k"] == "v" and .config.WorkingDir == "/srv" and
	.config.User == "1000" and .config.ExposedPorts["8080/tcp"] == {} and
	.config.Volumes["/data"] == {} and .config.StopSignal == "SIGTERM"' cfg.json >/dev/null &&
	test_ok "config: labels, workdir, user, ports, volumes, stop signal" ||
	test_not_ok "config: labels, workdir, user, ports, volumes, stop signal" "$(jq -c .config cfg.json)"
jq -e '.created == "1970-01-01T00:00:00Z" and (.rootfs.diff_ids | length) == 4 and
	(.history | map(select(.comment == "hoist")) | length) == 3' cfg.json >/dev/null &&
	test_ok "config: created 1970, diff_ids appended, history per step" ||
	test_not_ok "config: created, diff_ids, history" "$(jq -c '{created, rootfs, history}' cfg.json)"
man=$(jq -r '.manifests[0].digest' out1/index.json)
jq -e --arg d "$BASE_DIGEST" --arg n "$BASE" \
	'.annotations["org.opencontainers.image.base.digest"] == $d and
	 .annotations["org.opencontainers.image.base.name"] == $n and
	 .annotations["org.example.a"] == "b"' "out1/blobs/sha256/${man#sha256:}" >/dev/null &&
	test_ok "manifest: base annotations" ||
	test_not_ok "manifest: base annotations" "$(cat "out1/blobs/sha256/${man#sha256:}")"

expect_success "umoci unpack" umoci unpack --image out1:latest bundle
st() { stat -c '%a %u:%g %F' "$1"; }
[[ $(st bundle/rootfs/usr/local/bin/run) == "755 1000:1000 regular file" ]] &&
	test_ok "unpacked: executable 0755 owned 1000:1000" ||
	test_not_ok "unpacked: executable mode and owner" "$(st bundle/rootfs/usr/local/bin/run)"
[[ $(st bundle/rootfs/srv/data.txt) == "644 1000:1000 regular file" ]] &&
	test_ok "unpacked: file 0644 from umask 077" ||
	test_not_ok "unpacked: file 0644" "$(st bundle/rootfs/srv/data.txt)"
[[ -L bundle/rootfs/srv/outside && $(readlink bundle/rootfs/srv/outside) == /etc/shadow ]] &&
	test_ok "a symlink pointing outside the context is copied as a link" ||
	test_not_ok "symlink kept as a link" "$(ls -l bundle/rootfs/srv)"
[[ -f bundle/rootfs/base.txt || -n $(ls bundle/rootfs | grep -v -e usr -e srv) ]] &&
	test_ok "the base's files are there" || test_not_ok "the base's files are there" "$(ls -R bundle/rootfs)"

sde_build() { SOURCE_DATE_EPOCH=1700000000 hoist build --add ctx1/data.txt:/d --output oci:sde; }
expect_success "SOURCE_DATE_EPOCH" sde_build
expect_success "its config" sk --config oci:sde:latest
jq -e '.created == "2023-11-14T22:13:20Z"' "$OUT" >/dev/null && test_ok "created from SOURCE_DATE_EPOCH" ||
	test_not_ok "created from SOURCE_DATE_EPOCH" "$(jq -c .created "$OUT")"
expect_success "layer mtimes from SOURCE_DATE_EPOCH" umoci unpack --image sde:latest sdeb
[[ $(stat -c %Y sdeb/rootfs/d) == 1700000000 ]] && test_ok "file mtime is SOURCE_DATE_EPOCH" ||
	test_not_ok "file mtime" "$(stat -c %Y sdeb/rootfs/d)"
sde_bad() { SOURCE_DATE_EPOCH=yesterday hoist build --add ctx1/data.txt:/d --output oci:sde; }
expect_code 2 "a bad SOURCE_DATE_EPOCH is refused" sde_bad

# --- a layer of several gzip members (one per 256 KiB block) ---------------
mkdir -p big && seq 1 400000 >big/text && head -c 1000000 /dev/urandom >big/random
expect_success "a 3.7 MB layer" hoist build --add big:/big --output oci:bigo
big_man=$(jq -r ".manifests[0].digest" bigo/index.json)
big_layer=bigo/blobs/sha256/$(jq -r '.layers[-1].digest' "bigo/blobs/sha256/${big_man#sha256:}" |
	sed 's/^sha256://')
members() { # FILE: the number of gzip members, all of them whole
	/usr/bin/env python3 -c 'import sys, zlib
d = open(sys.argv[1], "rb").read(); n = 0
while d:
    o = zlib.decompressobj(31); o.decompress(d); assert o.eof; d = o.unused_data; n += 1
print(n)' "$1"
}
n=$(members "$big_layer")
[[ $n -gt 10 ]] && test_ok "its gzip has a member per block ($n)" || test_not_ok "gzip members" "$n"
expect_success "umoci unpack of it" umoci unpack --image bigo:latest bigb
cmp -s big/text bigb/rootfs/big/text && cmp -s big/random bigb/rootfs/big/random &&
	test_ok "umoci reads every member" || test_not_ok "umoci reads every member"
mkdir -p bigt && tar -C bigt -xzf "$big_layer" && cmp -s big/text bigt/big/text &&
	cmp -s big/random bigt/big/random && test_ok "GNU tar reads every member" ||
	test_not_ok "GNU tar reads every member"

# --- a tarball given to --add with DST/ is unpacked, as Docker's ADD -------
mkdir -p tb/pkg && echo inside >tb/pkg/file && tar -C tb -czf pkg.tar.gz pkg
expect_success "--add of a .tar.gz to a directory" hoist build --add pkg.tar.gz:/opt/ \
	--add pkg.tar.gz:/keep/pkg.tar.gz --output oci:tgz
expect_success "umoci unpack of the tarball build" umoci unpack --image tgz:latest tgzb
[[ $(cat tgzb/rootfs/opt/pkg/file 2>/dev/null) == inside && -f tgzb/rootfs/keep/pkg.tar.gz ]] &&
	test_ok "unpacked into DST/, kept as a file otherwise" ||
	test_not_ok "tarball --add" "$(cd tgzb/rootfs && find .)"

# --- compression -----------------------------------------------------------
expect_success "zstd" hoist build --add ctx1/data.txt:/d --compression zstd --output oci:z
jq -e '.layers[0].mediaType == "application/vnd.oci.image.layer.v1.tar+zstd"' \
	"z/blobs/sha256/$(jq -r '.manifests[0].digest' z/index.json | cut -d: -f2)" >/dev/null &&
	test_ok "zstd layer media type" || test_not_ok "zstd layer media type"
expect_success "uncompressed" hoist build --add ctx1/data.txt:/d --compression none --output oci:n
expect_code 2 "a bad compression is a usage error" hoist build --add a:/b --compression lzma
expect_code 2 "nothing to build" hoist build
expect_code 2 "a bad --output" hoist build --add ctx1:/x --output docker:x

# --- Containerfile ---------------------------------------------------------
cat >ctx1/Containerfile <<EOF
# syntax=docker/dockerfile:1
ARG BASE=$BASE
FROM \${BASE}
ARG VERSION=1.0
ENV APP_VERSION=\$VERSION \\
    MODE=prod
LABEL org.opencontainers.image.version=\$VERSION
WORKDIR /app
COPY --chmod=0700 bin/run ./
COPY --chown=10:20 etc /etc/
ADD data.txt *.log /app/files/
USER 10:20
EXPOSE 80/udp 443
VOLUME ["/cache"]
STOPSIGNAL SIGINT
SHELL ["/bin/bash", "-c"]
ENTRYPOINT ["/app/run"]
CMD echo \$HOME
EOF
expect_success "build -f Containerfile" hoist build -f ctx1/Containerfile --build-arg VERSION=2.5 \
	--output oci:cf ctx1
expect_success "skopeo inspect --config of the Containerfile build" sk --config oci:cf:latest
cp "$OUT" cfcfg.json
jq -e '.config.Env | index("APP_VERSION=2.5") != null and index("MODE=prod") != null' cfcfg.json >/dev/null &&
	test_ok "ENV with ARG and --build-arg" || test_not_ok "ENV" "$(jq -c .config.Env cfcfg.json)"
jq -e '.config.Labels["org.opencontainers.image.version"] == "2.5" and .config.WorkingDir == "/app" and
	.config.User == "10:20" and .config.ExposedPorts["80/udp"] == {} and
	.config.ExposedPorts["443/tcp"] == {} and .config.Volumes["/cache"] == {} and
	.config.StopSignal == "SIGINT" and .config.Entrypoint == ["/app/run"] and
	.config.Cmd == ["/bin/bash", "-c", "echo $HOME"]' cfcfg.json >/dev/null &&
	test_ok "LABEL WORKDIR USER EXPOSE VOLUME STOPSIGNAL ENTRYPOINT CMD SHELL" ||
	test_not_ok "Containerfile config" "$(jq -c .config cfcfg.json)"
jq -e '[.history[] | select(.comment == "hoist") | .created_by] | any(startswith("COPY --chmod=0700"))' \
	cfcfg.json >/dev/null && test_ok "history: created_by is the instruction" ||
	test_not_ok "history created_by" "$(jq -c .history cfcfg.json)"
expect_success "umoci unpack of the Containerfile build" umoci unpack --image cf:latest cfb
[[ $(st cfb/rootfs/app/run) == "700 0:0 regular file" ]] && test_ok "COPY --chmod" ||
	test_not_ok "COPY --chmod" "$(st cfb/rootfs/app/run)"
[[ $(st cfb/rootfs/etc/app/conf) == "644 10:20 regular file" ]] && test_ok "COPY --chown" ||
	test_not_ok "COPY --chown" "$(st cfb/rootfs/etc/app/conf)"
[[ -f cfb/rootfs/app/files/data.txt && ! -e cfb/rootfs/app/files/x.log && ! -e cfb/rootfs/app/files/secret ]] &&
	test_ok ".dockerignore honoured, globs expanded" ||
	test_not_ok ".dockerignore and globs" "$(cd cfb/rootfs/app && find .)"

printf 'FROM scratch\nCOPY data.txt /\n\nRUN make\n' >ctx1/Runfile
expect_code 1 "RUN is refused" hoist build -f ctx1/Runfile --output oci:r ctx1
grep -q 'line 4' "$ERR" && grep -qi 'runtime' "$ERR" && test_ok "RUN: line number and why" ||
	test_not_ok "RUN: line number and why" "$(cat "$ERR")"
printf 'FROM scratch\nCOPY ../etc/passwd /\n' >ctx1/Escape
expect_code 1 "a source outside the context is refused" hoist build -f ctx1/Escape --output oci:r ctx1

# --- tarball output --------------------------------------------------------
expect_success "tarball output" hoist build --base "$BASE" --add ctx1/data.txt:/d \
	-t "$R/tb/img:1" --output tarball:img.tar
expect_success "skopeo inspect docker-archive:" skopeo inspect docker-archive:img.tar
jq -e '.Layers | length == 2' "$OUT" >/dev/null && test_ok "docker-archive has base + new layer" ||
	test_not_ok "docker-archive layers" "$(cat "$OUT")"

# --- push: base on the same registry, layers mounted -----------------------
before=$(blob_writes "$REGISTRY_LOG")
expect_success "build and push" hoist build --base "$BASE" --add ctx1/data.txt:/srv/data.txt \
	-t "$R/apps/one:1" -t "$R/apps/one:latest"
pushed=$(head -n1 "$OUT")
[[ $pushed == "$R/apps/one@sha256:"* && $(wc -l <"$OUT") == 2 ]] && test_ok "prints REPO@DIGEST per tag" ||
	test_not_ok "prints REPO@DIGEST" "$(cat "$OUT")"
nmount=$(grep -c '"POST /v2/apps/one/blobs/uploads/?mount=sha256%3A[0-9a-f]*&from=library%2Fbase ' "$REGISTRY_LOG")
after=$(blob_writes "$REGISTRY_LOG")
nbase=$(jq '.layers | length' "$SEED_LAYOUT/blobs/sha256/${BASE_DIGEST#sha256:}")
# writes: the new layer and the config (POST + PUT each, monolithic or not)
((nmount >= nbase && after - before <= 6)) && test_ok "base layers mounted, not uploaded" ||
	test_not_ok "base layers mounted" "$nmount mounts (base has $nbase), $((after - before)) writes"
expect_output "skopeo sees the pushed digest" "${pushed#*@}" \
	skopeo inspect --tls-verify=false --format '{{.Digest}}' "docker://$R/apps/one:1"
expect_success "skopeo inspect of the pushed image" sk "docker://$R/apps/one:latest"
before=$(blob_writes "$REGISTRY_LOG")
expect_success "build and push again" hoist build --base "$BASE" --add ctx1/data.txt:/srv/data.txt \
	-t "$R/apps/one:1"
after=$(blob_writes "$REGISTRY_LOG")
((after == before)) && test_ok "second push uploads nothing" ||
	test_not_ok "second push uploads nothing" "$((after - before)) writes"

# --- push to another registry: base layers streamed registry to registry ----
if registry_start --name two; then
	R2=$REGISTRY_two
	expect_success "build and push to another registry" hoist build --base "$BASE" \
		--add ctx1/data.txt:/srv/data.txt -t "$R2/other/app:1"
	o=$(cat "$OUT")
	expect_output "skopeo sees it there" "${o#*@}" \
		skopeo inspect --tls-verify=false --format '{{.Digest}}' "docker://$R2/other/app:1"
	expect_success "its layers can be read (copy to a layout)" \
		skopeo --insecure-policy copy -q --src-tls-verify=false "docker://$R2/other/app:1" oci:other:1
	[[ -n ${o#*@} && $o == "$(head -n1 <<<"$pushed" | cut -d@ -f1 | sed "s|$R/apps/one|$R2/other/app|")@${o#*@}" ]] &&
		test_ok "prints the other registry's REPO@DIGEST" || test_not_ok "prints REPO@DIGEST" "$o"
else
	test_not_ok "a second registry starts"
fi

# --- offline: cached base by digest, registry stopped ----------------------
expect_success "--push=false puts the build in the cache" hoist build --base "$BASE" \
	--add ctx1/data.txt:/d -t "$R/cached/img:1" --push=false
registry_stop
expect_success "offline build, registry stopped" hoist build --base "$BASE" --add ctx1/bin:/bin \
	--output oci:off
expect_success "offline build into the cache" hoist build --base "$BASE" --add ctx1/bin:/bin --output cache
expect_success "skopeo inspect of the offline build" sk oci:off:latest
test_done
