#!/usr/bin/env bash
# t0410-warm-pull: what a re-pull of a cached tag costs (issue 4: at most
# two HTTP requests): the requests each registry's access log shows (no
# GET /v2/ ping before a read; a TLS loopback registry still gets https;
# credentials still only after a challenge), nothing written under
# .hoist/sources, and a hoist that does not load libarchive to do it.
. "$(dirname "$0")/../lib.sh"
test_init

# http_reqs LOG FROM: the requests (method and path) of a docker-registry
# access log after its first FROM lines
http_reqs() {
	tail -n +"$(($2 + 1))" "$1" | sed -n 's/^[^"]*"\([A-Z]*\) \([^ ]*\) HTTP[^"]*" \([0-9]*\).*/\1 \2 \3/p'
}
lines() { wc -l <"$1" | tr -d ' '; }

# --- the binary ---------------------------------------------------------------
if readelf -d "$HOIST" 2>/dev/null | grep -q 'NEEDED.*libarchive'; then
	test_not_ok "hoist is not linked with libarchive" "$(readelf -d "$HOIST" | grep NEEDED)"
else
	test_ok "hoist is not linked with libarchive"
fi
if nm -D --defined-only "$HOIST" 2>/dev/null | grep -q ' archive_'; then
	test_not_ok "hoist exports no archive_* symbol" "$(nm -D --defined-only "$HOIST" | grep ' archive_')"
else
	test_ok "hoist exports no archive_* symbol"
fi

# --- plain http loopback registry -----------------------------------------------
registry_start || { test_not_ok "registry starts"; test_done; }
R=$REGISTRY
seed_image warm/img:1 || test_not_ok "seed_image"
D=$SEED_DIGEST
expect_output "first pull into the cache" "$R/warm/img@$D" hoist pull "$R/warm/img:1"
cache=$XDG_CACHE_HOME/hoist
touch -d '2020-01-01 00:00:00' "$cache/.hoist/sources"/sha256/* stamp
nsrc=$(find "$cache/.hoist/sources" -type f | wc -l)
n=$(lines "$REGISTRY_LOG")
expect_output "warm re-pull" "$R/warm/img@$D" hoist pull -q "$R/warm/img:1"
expect_output "one request: the manifest HEAD" "HEAD /v2/warm/img/manifests/1 200" \
	http_reqs "$REGISTRY_LOG" "$n"
[[ -z $(find "$cache/.hoist/sources" -type f -newer stamp) &&
   $(find "$cache/.hoist/sources" -type f | wc -l) == "$nsrc" ]] &&
	test_ok "nothing written under .hoist/sources" ||
	test_not_ok "nothing written under .hoist/sources" "$(find "$cache/.hoist/sources" -type f -newer stamp)"
n=$(lines "$REGISTRY_LOG")
expect_output "by cached digest" "$R/warm/img@$D" hoist pull -q "$R/warm/img@$D"
expect_output "no request at all" "" http_reqs "$REGISTRY_LOG" "$n"
# a tag that moved: the new manifest is fetched and recorded
seed_image --content "moved" warm/img:1 || test_not_ok "seed_image (moved)"
D2=$SEED_DIGEST
sleep 3	# index.json is now old enough to be kept parsed (cache/layout.c)
expect_output "a moved tag" "$R/warm/img@$D2" hoist pull -q "$R/warm/img:1"
expect_output "its index.json entry is replaced" "$D2" \
	jq -r --arg n "$R/warm/img:1" \
	'.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $n) | .digest' \
	"$cache/index.json"
src=$(cat "$cache/.hoist/sources/sha256/${D2#sha256:}" 2>/dev/null)
[[ $src == "$R/warm/img" ]] && test_ok "its source is recorded" ||
	test_not_ok "its source is recorded" "got '$src'"

# --- TLS + htpasswd loopback registry --------------------------------------------
registry_start --tls --htpasswd alice:s3cret --name sec || { test_not_ok "TLS registry starts"; test_done; }
S=$REGISTRY_sec
seed_image --name sec warm/img:1 || test_not_ok "seed_image (TLS)"
DS=$SEED_DIGEST
mkdir -p "certs.d/$S" && cp "$REGISTRY_CA_sec" "certs.d/$S/ca.crt"
export HOIST_CERTS_DIR=$TEST_DIR/certs.d
expect_code 1 "without credentials: refused" hoist pull -q "$S/warm/img:1"
expect_success "login" hoist auth login "$S" -u alice -p s3cret
expect_output "first pull (TLS, Basic)" "$S/warm/img@$DS" hoist pull -q "$S/warm/img:1"
n=$(lines "$REGISTRY_LOG_sec")
expect_output "warm re-pull (TLS, Basic)" "$S/warm/img@$DS" hoist pull -q "$S/warm/img:1"
expect_output "two requests: HEAD, challenged, then HEAD with the credentials" \
	"HEAD /v2/warm/img/manifests/1 401
HEAD /v2/warm/img/manifests/1 200" http_reqs "$REGISTRY_LOG_sec" "$n"
mv "certs.d/$S" certs.d/elsewhere
expect_code 1 "TLS still verified: an unknown CA is refused" hoist pull -q "$S/warm/img:1"
grep -qF "certs.d/$S/ca.crt" "$ERR" && test_ok "it says how to trust the CA" ||
	test_not_ok "it says how to trust the CA" "$(cat "$ERR")"
mv certs.d/elsewhere "certs.d/$S"

# --- Bearer tokens ----------------------------------------------------------------
if token_server_start --user bob:b0b >/dev/null 2>&1 && registry_start_token --name tok >/dev/null 2>&1; then
	T=$REGISTRY_tok
	seed_image --name tok warm/img:1 || test_not_ok "seed_image (token)"
	DT=$SEED_DIGEST
	expect_success "token login" hoist auth login "$T" -u bob -p b0b
	expect_output "first pull (token)" "$T/warm/img@$DT" hoist pull -q "$T/warm/img:1"
	n=$(lines "$REGISTRY_LOG_tok")
	t=$(lines "$TOKEN_LOG")
	expect_output "warm re-pull (token)" "$T/warm/img@$DT" hoist pull -q "$T/warm/img:1"
	expect_output "registry: HEAD challenged, then HEAD with the token" \
		"HEAD /v2/warm/img/manifests/1 401
HEAD /v2/warm/img/manifests/1 200" http_reqs "$REGISTRY_LOG_tok" "$n"
	(($(lines "$TOKEN_LOG") == t + 1)) && test_ok "one token request" ||
		test_not_ok "one token request" "$(tail -n +$((t + 1)) "$TOKEN_LOG")"
else
	test_skip "warm pull with a token" "the token-server fixture is not available"
fi

test_done
