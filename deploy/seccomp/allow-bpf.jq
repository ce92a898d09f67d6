# Turns a container runtime's default seccomp profile (Docker's, containerd's, containers-common's: one JSON
# format) into one that allows bpf() under CAP_BPF, as containers-common 0.60 changed its default in 2024:
# the runtimes that refused it before then allowed bpf() only with CAP_SYS_ADMIN. Everything else stays.
#   jq -f deploy/seccomp/allow-bpf.jq /usr/share/containers/seccomp.json > flapwatch.json
# (See "A missing capability" in README.md for where each runtime keeps its profile and takes this one.)
.syscalls |= (
  map(if .action == "SCMP_ACT_ERRNO" and ((.excludes.caps // []) | index("CAP_SYS_ADMIN")) then .names -= ["bpf"] else . end)
  | map(select(.names | length > 0))
  | . + [
      {names: ["bpf"], action: "SCMP_ACT_ERRNO", errnoRet: 1, excludes: {caps: ["CAP_SYS_ADMIN", "CAP_BPF"]}},
      {names: ["bpf"], action: "SCMP_ACT_ALLOW", includes: {caps: ["CAP_BPF"]}}
    ]
)
