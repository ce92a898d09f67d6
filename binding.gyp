{
  "targets": [
    {
      # BPF objects and their libbpf skeletons; vmlinux.h generated from the build machine's BTF.
      "target_name": "bpf_objects",
      "type": "none",
      "actions": [
        {
          "action_name": "build_bpf",
          "inputs": [
            "native/bpf/build.sh",
            "native/bpf/aggregate.bpf.h",
            "native/bpf/connections.bpf.c",
            "native/bpf/connections.h",
            "native/bpf/dns.bpf.c",
            "native/bpf/dns.h",
            "native/bpf/drops.bpf.c",
            "native/bpf/drops.h",
            "native/bpf/families.h",
            "native/bpf/skb_conntrack.bpf.h",
            "native/bpf/task_netns.bpf.c",
            "native/bpf/task_netns.h",
            "native/bpf/tuple.h"
          ],
          "outputs": [
            "<(SHARED_INTERMEDIATE_DIR)/bpf/connections.skel.h",
            "<(SHARED_INTERMEDIATE_DIR)/bpf/dns.skel.h",
            "<(SHARED_INTERMEDIATE_DIR)/bpf/drops.skel.h",
            "<(SHARED_INTERMEDIATE_DIR)/bpf/task_netns.skel.h"
          ],
          "action": ["sh", "native/bpf/build.sh", "<(SHARED_INTERMEDIATE_DIR)/bpf"]
        }
      ]
    },
    {
      "target_name": "flapwatch",
      "dependencies": ["bpf_objects"],
      "sources": [
        "native/src/addon.cc",
        "native/src/bpf_maps.cc",
        "native/src/bpf_object.cc",
        "native/src/conn_tracker.cc",
        "native/src/conntrack.cc",
        "native/src/conntrack_groups.cc",
        "native/src/conntrack_netlink.cc",
        "native/src/dns_tracer.cc",
        "native/src/drop_tracer.cc",
        "native/src/errors.cc",
        "native/src/fd_watch.cc",
        "native/src/iptables_legacy.cc",
        "native/src/iptables_legacy_read.cc",
        "native/src/iptables_save_print.cc",
        "native/src/kallsyms.cc",
        "native/src/libbpf_log.cc",
        "native/src/netns.cc",
        "native/src/netns_iterator.cc",
        "native/src/values.cc"
      ],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "<(SHARED_INTERMEDIATE_DIR)/bpf",
        "native/bpf"
      ],
      # Debian's static libbpf/libelf/libz are not PIC: link the shared ones (the image ships libbpf1).
      "libraries": ["-lbpf", "-lelf", "-lz", "-lmnl"],
      "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      # One exception mode: C++ exceptions, so N-API failures surface as JS errors without manual checks.
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions"],
      "cflags_cc": ["-std=c++17", "-fvisibility=hidden", "-Wall", "-Wextra", "-Wno-missing-field-initializers"]
    }
  ]
}
