/* mqtt-load — publish a known set of QoS 1 messages for the mqtt2kafka tests and benchmark.
 *   mqtt-load -p PORT [-h HOST] [-n COUNT] [-d DEVICES] [-s FIRST] [-e EXPECTED] [-r RATE]
 *             [-t TOPIC_PREFIX] [-q QOS]
 * Message i (FIRST <= i < FIRST+COUNT) goes to "PREFIX/<i % DEVICES>/info" with a payload
 * that starts "<device>:<seq>|" (seq = i / DEVICES, increasing per device) followed by one of
 * five shapes: text, multi-line, binary with NUL bytes, 2000 bytes, a lone byte. With -e,
 * writes "topic<TAB>key-hex<TAB>payload-hex" per message. Exits 0 once the broker has
 * acknowledged every message. -r caps the rate (messages/s). */
#include <mosquitto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static volatile long acked;
static volatile int connacked;
static void on_publish(struct mosquitto *m, void *o, int mid) { __atomic_add_fetch(&acked, 1, __ATOMIC_RELAXED); }
static void on_connect(struct mosquitto *m, void *o, int rc)
{
	if (rc == 0)
		__atomic_store_n(&connacked, 1, __ATOMIC_RELAXED);
}

static size_t make_payload(unsigned char *p, long i, long dev, long seq)
{
	size_t n = (size_t)sprintf((char *)p, "%ld:%ld|", dev, seq);
	switch (i % 5) {
	case 0: n += (size_t)sprintf((char *)p + n, "{\"temp\":%ld.5}", i % 40); break;
	case 1: n += (size_t)sprintf((char *)p + n, "line one\nline two\r\n\tthree %ld\n", i); break;
	case 2:
		for (int k = 0; k < 64; k++)
			p[n++] = (unsigned char)((i * 7 + k * 13) & 0xff);
		p[n++] = 0;
		break;
	case 3:
		for (int k = 0; k < 2000; k++)
			p[n++] = (unsigned char)('a' + (i + k) % 26);
		break;
	default: p[n++] = 0xff; break;
	}
	return n;
}

static void hex(FILE *f, const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%02x", p[i]);
}

int main(int argc, char **argv)
{
	const char *host = "127.0.0.1", *expected = NULL, *prefix = "device";
	int port = 1883, opt, qos = 1;
	long count = 10000, devices = 50, first = 0, rate = 0;
	while ((opt = getopt(argc, argv, "h:p:n:d:s:e:r:t:q:")) != -1) {
		switch (opt) {
		case 'h': host = optarg; break;
		case 'p': port = atoi(optarg); break;
		case 'n': count = atol(optarg); break;
		case 'd': devices = atol(optarg); break;
		case 's': first = atol(optarg); break;
		case 'e': expected = optarg; break;
		case 'r': rate = atol(optarg); break;
		case 't': prefix = optarg; break;
		case 'q': qos = atoi(optarg); break;
		default: fprintf(stderr, "mqtt-load: bad option\n"); return 2;
		}
	}
	FILE *ef = expected ? fopen(expected, "w") : NULL;
	if (expected && !ef) {
		perror(expected);
		return 1;
	}
	mosquitto_lib_init();
	char id[64];
	snprintf(id, sizeof id, "mqtt-load-%d", (int)getpid());
	struct mosquitto *m = mosquitto_new(id, true, NULL);
	mosquitto_publish_callback_set(m, on_publish);
	mosquitto_connect_callback_set(m, on_connect);
	mosquitto_max_inflight_messages_set(m, 100);
	if (mosquitto_connect(m, host, port, 60) != MOSQ_ERR_SUCCESS) {
		fprintf(stderr, "mqtt-load: cannot connect to %s:%d\n", host, port);
		return 1;
	}
	mosquitto_loop_start(m);
	/* Publish only after CONNACK: libmosquitto re-sends (DUP) every QoS 1 message still
	 * waiting for its PUBACK when the CONNACK arrives, so messages sent before it would
	 * reach the subscribers twice. */
	for (int w = 0; !__atomic_load_n(&connacked, __ATOMIC_RELAXED); w++) {
		if (w == 10000) {
			fprintf(stderr, "mqtt-load: no CONNACK from %s:%d\n", host, port);
			return 1;
		}
		usleep(1000);
	}
	static unsigned char payload[4096];
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (long i = first; i < first + count; i++) {
		long dev = i % devices, seq = i / devices;
		char topic[256];
		snprintf(topic, sizeof topic, "%s/%ld/info", prefix, dev);
		size_t n = make_payload(payload, i, dev, seq);
		/* Keep the library's queue short so memory stays flat for big counts. */
		while ((i - first) - __atomic_load_n(&acked, __ATOMIC_RELAXED) > 1000 && qos > 0)
			usleep(200);
		if (rate > 0) {
			struct timespec t;
			clock_gettime(CLOCK_MONOTONIC, &t);
			double el = (double)(t.tv_sec - t0.tv_sec) + (double)(t.tv_nsec - t0.tv_nsec) / 1e9;
			double due = (double)(i - first) / (double)rate;
			if (due > el)
				usleep((useconds_t)((due - el) * 1e6));
		}
		int rc;
		while ((rc = mosquitto_publish(m, NULL, topic, (int)n, payload, qos, false)) == MOSQ_ERR_NO_CONN)
			usleep(10000);
		if (rc) {
			fprintf(stderr, "mqtt-load: publish: %s\n", mosquitto_strerror(rc));
			return 1;
		}
		if (ef) {
			char key[32];
			int kl = snprintf(key, sizeof key, "%ld", dev);
			fprintf(ef, "%s\t", topic);
			hex(ef, (unsigned char *)key, (size_t)kl);
			fputc('\t', ef);
			hex(ef, payload, n);
			fputc('\n', ef);
		}
	}
	if (ef)
		fclose(ef);
	for (int w = 0; qos > 0 && __atomic_load_n(&acked, __ATOMIC_RELAXED) < count && w < 60000; w++)
		usleep(1000);
	long got = __atomic_load_n(&acked, __ATOMIC_RELAXED);
	mosquitto_disconnect(m);
	mosquitto_loop_stop(m, false);
	mosquitto_destroy(m);
	mosquitto_lib_cleanup();
	if (qos > 0 && got < count) {
		fprintf(stderr, "mqtt-load: only %ld of %ld acknowledged\n", got, count);
		return 1;
	}
	return 0;
}
