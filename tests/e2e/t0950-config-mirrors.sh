#!/usr/bin/env bash
# t0950-config-mirrors: the config file (${XDG_CONFIG_HOME}/hoist/config.json,
# --config, HOIST_CONFIG) and registry mirrors.  The origin is a real
# docker-registry; the mirror a second one in pull-through proxy mode
# (proxy.remoteurl = the origin).  Checked: reads go to the mirror (its
# access log; the origin sees no request from hoist) and give the origin's
# digests; a mirror that is down (closed port) or lacks the image falls back;
# pushes and copies' destinations go to the origin only; unknown keys and
# wrong types are errors naming the key; flag > environment > config file;
# "cache", "platform", "jobs" and a TLS registry's "ca" and "insecure".
. "$(dirname "$0")/../lib.sh"
test_init
export HOIST_RETRY_BASE_MS=10

registry_start || { test_not_ok "origin starts"; test_done; }
O=$REGISTRY
OLOG=$REGISTRY_LOG
seed_image library/hello:1 || { test_not_ok "seed_image"; test_done; }
D1=$SEED_DIGEST
registry_start --name mirror --proxy "http://$O" || { test_not_ok "mirror starts"; test_done; }
M=$REGISTRY_mirror
MLOG=$REGISTRY_LOG_mirror
registry_start --name empty || { test_not_ok "empty registry starts"; test_done; }
E=$REGISTRY_empty
ELOG=$REGISTRY_LOG_empty
CLOSED=127.0.0.1:$(_reg_free_port)

CFG=$XDG_CONFIG_HOME/hoist/config.json
mkdir -p "$(dirname "$CFG")"
config() { printf '%s\n' "$1" >"$CFG"; }
# hoist's own requests in a registry's access log (the proxy's to the
# origin carry another user agent)
hoist_reqs() { grep -c '"hoist/' "$1"; }
mark() { wc -l <"$1" | tr -d ' '; }
since() { tail -n +"$(($2 + 1))" "$1"; }

# --- a missing default file is fine; the mirror serves reads ----------------------
expect_output "no config file: pull works" "$O/library/hello@$D1" hoist pull "$O/library/hello:1" plain
config "{\"registries\": {\"$O\": {\"mirrors\": [\"http://$M\"]}}}"
o0=$(mark "$OLOG")
expect_output "pull through the mirror" "$O/library/hello@$D1" hoist -v pull "$O/library/hello:1" viam
grep -q "^mirror: $M served manifest $O/library/hello" "$ERR" &&
	test_ok "-v says the mirror served" || test_not_ok "-v says the mirror served" "$(cat "$ERR")"
grep -qE '"(HEAD|GET) /v2/library/hello/manifests/1 .*"hoist/' "$MLOG" &&
	test_ok "the mirror's log has hoist's manifest request" || test_not_ok "the mirror's log has hoist's manifest request"
grep -q "\"GET /v2/library/hello/blobs/sha256:.*\"hoist/" "$MLOG" &&
	test_ok "the mirror's log has hoist's blob GETs" || test_not_ok "the mirror's log has hoist's blob GETs"
n=$(since "$OLOG" "$o0" | grep -c '"hoist/')
[[ $n == 0 ]] && test_ok "the origin saw no request from hoist" ||
	test_not_ok "the origin saw no request from hoist" "$n requests"
expect_output "the digest is the origin's" "$D1" \
	skopeo inspect --format '{{.Digest}}' "oci:viam:$O/library/hello:1"
compare "the same blobs as without a mirror" <(ls plain/blobs/sha256 | sort) <(ls viam/blobs/sha256 | sort)
expect_output "hoist digest through the mirror" "$D1" hoist digest "$O/library/hello:1"
expect_success "hoist config through the mirror" hoist config "$O/library/hello:1"

# --- a mirror that is down, then one that lacks the image: fall back --------------
config "{\"registries\": {\"$O\": {\"mirrors\": [\"http://$CLOSED\", \"$E\"]}}}"
o0=$(mark "$OLOG")
e0=$(mark "$ELOG")
expect_output "mirrors down and empty: pull falls back to the origin" "$O/library/hello@$D1" \
	hoist -v pull "$O/library/hello:1" fallback
grep -q "^mirror: $CLOSED failed for manifest $O/library/hello, trying $E" "$ERR" &&
	test_ok "-v says the closed mirror failed" || test_not_ok "-v says the closed mirror failed" "$(cat "$ERR")"
grep -q "^mirror: $E failed for manifest $O/library/hello, trying the registry" "$ERR" &&
	test_ok "-v says the empty mirror lacks it" || test_not_ok "-v says the empty mirror lacks it" "$(cat "$ERR")"
since "$ELOG" "$e0" | grep -qE '"(HEAD|GET) /v2/library/hello/manifests/1 HTTP/[0-9.]+" 404 ' &&
	test_ok "the empty mirror answered 404" || test_not_ok "the empty mirror answered 404"
n=$(since "$OLOG" "$o0" | grep -c '"hoist/')
((n > 0)) && test_ok "the origin served the fallback" || test_not_ok "the origin served the fallback"
compare "fallback: the same blobs" <(ls plain/blobs/sha256 | sort) <(ls fallback/blobs/sha256 | sort)

# --- a mirror with a path: a repository prefix, as podman's location -------------
seed_image --name empty hub/library/hello:1 || test_not_ok "seed the prefixed mirror"
config "{\"registries\": {\"$O\": {\"mirrors\": [\"http://$E/hub/\"]}}}"
e0=$(mark "$ELOG")
expect_output "a prefixed mirror serves by digest" "$O/library/hello@$D1" \
	hoist --cache "$TEST_DIR/pcache" -v pull "$O/library/hello@$D1" prefixed
since "$ELOG" "$e0" | grep -qE '"(HEAD|GET) /v2/hub/library/hello/manifests/sha256:.* 200 ' &&
	test_ok "the prefixed mirror was asked at hub/library/hello" ||
	test_not_ok "the prefixed mirror was asked at hub/library/hello"

# --- writes never go to a mirror ---------------------------------------------------
config "{\"registries\": {\"$O\": {\"mirrors\": [\"http://$M\"]}}}"
m0=$(mark "$MLOG")
dp=$(mk_image lay pushed)
expect_output "push with a mirror configured" "$O/library/pushed@$dp" \
	hoist push lay "$O/library/pushed:1"
expect_output "the origin has the pushed image" "$dp" sk_digest "$O/library/pushed:1"
n=$(since "$MLOG" "$m0" | grep -c 'library/pushed')
[[ $n == 0 ]] && test_ok "push: the mirror saw nothing" || test_not_ok "push: the mirror saw nothing" "$n lines"
m0=$(mark "$MLOG")
expect_success "copy with a mirror configured" hoist copy "$O/library/hello:1" "$O/library/copied:1"
expect_output "the origin has the copy" "$D1" sk_digest "$O/library/copied:1"
n=$(since "$MLOG" "$m0" | grep -cE '"(PUT|POST|PATCH|DELETE) ')
[[ $n == 0 ]] && test_ok "copy: no write reached the mirror" || test_not_ok "copy: no write reached the mirror" "$n"
expect_success "tag with a mirror configured" hoist tag "$O/library/hello:1" 2
expect_output "the origin has the tag" "$D1" sk_digest "$O/library/hello:2"
n=$(since "$MLOG" "$m0" | grep -cE '"(PUT|POST|PATCH|DELETE) ')
[[ $n == 0 ]] && test_ok "tag: no write reached the mirror" || test_not_ok "tag: no write reached the mirror" "$n"

# --- errors: unknown keys, wrong types, a missing --config ------------------------
config "{\"registries\": {\"$O\": {\"mirors\": [\"http://$M\"]}}}"
expect_code 1 "an unknown key is an error" hoist digest "$O/library/hello:1"
grep -qF "registries.\"$O\".mirors: unknown key (did you mean 'mirrors'?)" "$ERR" &&
	test_ok "the error names the key's path and the closest key" ||
	test_not_ok "the error names the key's path and the closest key" "$(cat "$ERR")"
config '{"jobs": "4"}'
expect_code 1 "a wrong type is an error" hoist digest "$O/library/hello:1"
grep -q "jobs: must be an integer, not a string" "$ERR" && test_ok "the error says the type" ||
	test_not_ok "the error says the type" "$(cat "$ERR")"
config '{"cahce": "x"}'
expect_code 1 "a top-level typo is an error" hoist pull "$O/library/hello:1"
grep -q "cahce: unknown key (did you mean 'cache'?)" "$ERR" && test_ok "top-level hint" ||
	test_not_ok "top-level hint" "$(cat "$ERR")"
expect_success "a command without setup ignores the config" hoist version
rm -f "$CFG"
expect_code 1 "a missing --config file is an error" hoist --config "$TEST_DIR/nope.json" digest "$O/library/hello:1"
grep -q "nope.json" "$ERR" && test_ok "the error names the file" || test_not_ok "the error names the file" "$(cat "$ERR")"
HOIST_CONFIG=$TEST_DIR/nope.json expect_code 1 "a missing \$HOIST_CONFIG file is an error" \
	hoist digest "$O/library/hello:1"

# --- --config, HOIST_CONFIG and precedence -----------------------------------------
printf '{"cache": "%s/cfgcache", "jobs": 2}\n' "$TEST_DIR" >other.json
expect_success "--config FILE is read (cache)" hoist --config other.json pull "$O/library/hello:1"
[[ -f cfgcache/index.json ]] && test_ok "the config's cache is used" || test_not_ok "the config's cache is used"
HOIST_CONFIG=other.json expect_success "HOIST_CONFIG is read" hoist cache ls
grep -q "library/hello" "$OUT" && test_ok "HOIST_CONFIG: the config's cache listed" ||
	test_not_ok "HOIST_CONFIG: the config's cache listed" "$(cat "$OUT")"
HOIST_CACHE=$TEST_DIR/envcache expect_success "HOIST_CACHE beats the config" \
	hoist --config other.json pull "$O/library/hello:1"
[[ -f envcache/index.json ]] && test_ok "HOIST_CACHE used" || test_not_ok "HOIST_CACHE used"
HOIST_CACHE=$TEST_DIR/envcache expect_success "--cache beats both" \
	hoist --config other.json --cache flagcache pull "$O/library/hello:1"
[[ -f flagcache/index.json ]] && test_ok "--cache used" || test_not_ok "--cache used"
printf '{"jobs": 65}\n' >badjobs.json
expect_code 1 "jobs out of range" hoist --config badjobs.json digest "$O/library/hello:1"
grep -q "jobs: must be 1 to 64" "$ERR" && test_ok "jobs range named" || test_not_ok "jobs range named" "$(cat "$ERR")"
printf '{"jobs": 1}\n' >onejob.json
expect_success "jobs from the config" hoist --config onejob.json pull "$O/library/hello:1" onejob
expect_success "--jobs beats the config" hoist --config onejob.json --jobs 8 pull "$O/library/hello:1" eightjobs

# platform: an index pushed to the origin, the child picked by the config
mk_image multi amd64 amd64 1000 >/dev/null
mk_image multi arm64 arm64 1000 >/dev/null
hoist push --index multi "$O/multi/idx:1" >/dev/null || test_not_ok "push the index"
printf '{"platform": "linux/arm64"}\n' >plat.json
expect_output "platform from the config" arm64 \
	sh -c 'hoist_out=$("$HOIST" --config plat.json config "$1") && printf "%s" "$hoist_out" | jq -r .architecture' _ "$O/multi/idx:1"
expect_output "--platform beats the config" amd64 \
	sh -c 'hoist_out=$("$HOIST" --config plat.json --platform linux/amd64 config "$1") && printf "%s" "$hoist_out" | jq -r .architecture' _ "$O/multi/idx:1"
printf '{"platform": "linux/"}\n' >badplat.json
expect_code 1 "a bad platform is an error" hoist --config badplat.json digest "$O/library/hello:1"

# --- a TLS registry: "ca" and "insecure" --------------------------------------------
registry_start --tls --name tls || { test_not_ok "TLS registry starts"; test_done; }
T=$REGISTRY_tls
seed_image --name tls library/hello:1 || test_not_ok "seed the TLS registry"
expect_code 1 "TLS with an unknown CA fails" hoist digest "$T/library/hello:1"
grep -q -- 'certs.d/' "$ERR" && test_ok "TLS with an unknown CA fails: the message says why" ||
	test_not_ok "TLS with an unknown CA fails: the message says why" "$(cat "$ERR")"
printf '{"registries": {"%s": {"ca": "%s"}}}\n' "$T" "$REGISTRY_CA_tls" >ca.json
expect_output "\"ca\" verifies the TLS registry" "$D1" hoist --config ca.json digest "$T/library/hello:1"
printf '{"registries": {"%s": {"insecure": true}}}\n' "$T" >insecure.json
expect_output "\"insecure\" skips verification for that registry" "$D1" \
	hoist --config insecure.json digest "$T/library/hello:1"
printf '{"registries": {"%s": {"ca": "%s"}}}\n' "$T" "$TEST_DIR/plain" >wrongca.json
expect_code 1 "a wrong \"ca\" fails" hoist --config wrongca.json digest "$T/library/hello:1"
grep -q -- 'cannot connect to registry' "$ERR" && test_ok "a wrong \"ca\" fails: the message says why" ||
	test_not_ok "a wrong \"ca\" fails: the message says why" "$(cat "$ERR")"
# the TLS registry as a mirror (https://) of the origin, trusted by its own "ca"
printf '{"registries": {"%s": {"mirrors": ["https://%s"]}, "%s": {"ca": "%s"}}}\n' \
	"$O" "$T" "$T" "$REGISTRY_CA_tls" >tlsmirror.json
o0=$(mark "$OLOG")
expect_output "an https mirror with its own ca" "$D1" hoist -v --config tlsmirror.json digest "$O/library/hello:1"
grep -q "^mirror: $T served" "$ERR" && test_ok "the TLS mirror served" || test_not_ok "the TLS mirror served" "$(cat "$ERR")"

test_done
