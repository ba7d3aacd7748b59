# The API contract test (tests/api/contract.c) with KVM, so that its
# post-start part runs too: `lodge --api-sock` against every operation of
# Firecracker's swagger file (tests/api/firecracker-api.yaml), a guest
# started through the API, the runtime operations on it. `make test` also
# runs it natively without KVM (pre-start part only).
bin=$ROOT/build/tests/api/contract
[ -x "$bin" ] || fail "no $bin (ninja -C build)"
echo "+ contract $LODGE"
LODGE_CONTRACT_GUEST=$GUESTS/serial-input.elf LODGE_SWAGGER=$ROOT/tests/api/firecracker-api.yaml \
	timeout "$TEST_TIMEOUT" "$bin" "$LODGE" > "$TMP/out" 2>&1
STATUS=$?
grep '^FAIL ' "$TMP/out" | head -n 20
grep -q '^CONTRACT-END ' "$TMP/out" || { tail -n 20 "$TMP/out"; fail "the contract test did not finish (status $STATUS)"; }
grep -q '^SKIP ' "$TMP/out" && { grep '^SKIP ' "$TMP/out"; fail "the post-start part was skipped although KVM is here"; }
grep -q '^PASS postboot:' "$TMP/out" || fail "no post-start case passed"
[ "$STATUS" -eq 0 ] || fail "$(grep '^CONTRACT-END' "$TMP/out")"
grep '^CONTRACT-END' "$TMP/out"
