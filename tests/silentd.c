/*
 * silentd ADDR PORT: accept TCP connections and never say a word, like a
 * host whose sshd hangs or a firewall that swallows the SSH banner.  For the
 * connect-timeout test.  Exits after 60 s.
 *
 * silentd ADDR PORT full: listen with a backlog of 1, fill the accept queue
 * with two connections of its own and never accept: the kernel drops every
 * further SYN, so a connect to ADDR:PORT times out as to a host whose
 * packets vanish (ss shows Recv-Q 2 once it is so).
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
	int			 s, c, i, one = 1, full;

	full = argc == 4 && strcmp(argv[3], "full") == 0;
	if (argc != 3 && !full) {
		fprintf(stderr, "usage: silentd ADDR PORT [full]\n");
		return 2;
	}
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((unsigned short)atoi(argv[2]));
	if (inet_pton(AF_INET, argv[1], &sin.sin_addr) != 1 ||
	    (s = socket(AF_INET, SOCK_STREAM, 0)) == -1 ||
	    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == -1 ||
	    bind(s, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    listen(s, full ? 1 : 16) == -1) {
		perror("silentd");
		return 1;
	}
	alarm(60);
	if (full) {
		for (i = 0; i < 2; i++)
			if ((c = socket(AF_INET, SOCK_STREAM, 0)) == -1 ||
			    connect(c, (struct sockaddr *)&sin,
			    sizeof(sin)) == -1) {
				perror("silentd: filling the queue");
				return 1;
			}
		for (;;)
			pause();
	}
	for (;;)
		if (accept(s, NULL, NULL) == -1)
			return 1;
}
