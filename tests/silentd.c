/*
 * silentd ADDR PORT: accept TCP connections and never say a word, like a
 * host whose sshd hangs or a firewall that swallows the SSH banner.  For the
 * connect-timeout test.  Exits after 60 s.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int
main(int argc, char *argv[])
{
	struct sockaddr_in	 sin;
	int			 s, one = 1;

	if (argc != 3) {
		fprintf(stderr, "usage: silentd ADDR PORT\n");
		return 2;
	}
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((unsigned short)atoi(argv[2]));
	if (inet_pton(AF_INET, argv[1], &sin.sin_addr) != 1 ||
	    (s = socket(AF_INET, SOCK_STREAM, 0)) == -1 ||
	    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == -1 ||
	    bind(s, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    listen(s, 16) == -1) {
		perror("silentd");
		return 1;
	}
	alarm(60);
	for (;;)
		if (accept(s, NULL, NULL) == -1)
			return 1;
}
