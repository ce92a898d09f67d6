/* bpfload: loads a BPF object file, attaches every program in it, prints one JSON line naming each program's id,
 * and holds them until its stdin closes. For bench/hooks.ts.
 *   bpfload OBJECT.o */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <stdio.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct bpf_object *obj;
	struct bpf_program *prog;
	const char *sep = "";
	char buf[64];

	if (argc != 2) {
		fprintf(stderr, "usage: bpfload OBJECT.o\n");
		return 2;
	}
	obj = bpf_object__open_file(argv[1], NULL);
	if (!obj || bpf_object__load(obj)) {
		perror("bpfload: loading");
		return 1;
	}
	printf("{");
	bpf_object__for_each_program(prog, obj) {
		struct bpf_prog_info info = {};
		__u32 len = sizeof(info);

		if (!bpf_program__attach(prog) || bpf_obj_get_info_by_fd(bpf_program__fd(prog), &info, &len)) {
			perror(bpf_program__name(prog));
			return 1;
		}
		printf("%s\"%s\":%u", sep, bpf_program__name(prog), info.id);
		sep = ",";
	}
	printf("}\n");
	fflush(stdout);
	while (read(0, buf, sizeof(buf)) > 0)
		;
	bpf_object__close(obj);
	return 0;
}
