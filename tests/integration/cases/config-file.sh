# A Firecracker-shaped config file boots the hello guest; flags override it.
cat > "$TMP/vm.json" <<JSON
{
  "boot-source": { "kernel_image_path": "$GUESTS/hello.elf", "boot_args": "from-config-file" },
  "machine-config": { "vcpu_count": 1, "mem_size_mib": 64, "smt": false },
  "drives": [],
  "lodge": { "serial": "stdio" }
}
JSON
lodge_run --config "$TMP/vm.json"
expect_status 1
expect_out "from-config-file"

lodge_run --config "$TMP/vm.json" --cmdline "from-the-flag"
expect_status 1
expect_out "from-the-flag"
expect_no_out "from-config-file"

lodge_run --config "$TMP/vm.json" --serial "file:$TMP/console.txt"
expect_status 1
grep -q "from-config-file" "$TMP/console.txt" || fail "console file lacks the guest's output"
