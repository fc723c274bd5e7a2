/* kafka-mock — librdkafka's mock Kafka cluster on 127.0.0.1 for the tests.
 *   kafka-mock [-b BROKERS] [-t TOPIC[:PARTITIONS]]...
 * Prints the bootstrap address on one line of stdout, then runs until SIGTERM/SIGINT.
 * SIGUSR1 takes every broker down ("Kafka is away"), SIGUSR2 brings them back up. */
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	int brokers = 3, opt;
	const char *topics[32];
	int ntopics = 0;
	while ((opt = getopt(argc, argv, "b:t:")) != -1) {
		if (opt == 'b')
			brokers = atoi(optarg);
		else if (opt == 't' && ntopics < 32)
			topics[ntopics++] = optarg;
		else {
			fprintf(stderr, "usage: kafka-mock [-b BROKERS] [-t TOPIC[:PARTITIONS]]...\n");
			return 2;
		}
	}
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	/* Block before librdkafka starts its threads so they inherit the mask. */
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	char err[512];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	rd_kafka_conf_set(conf, "log_level", "3", err, sizeof err);
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
	if (!rk) {
		fprintf(stderr, "kafka-mock: %s\n", err);
		return 1;
	}
	rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(rk, brokers);
	if (!mc) {
		fprintf(stderr, "kafka-mock: cannot create the mock cluster\n");
		return 1;
	}
	for (int i = 0; i < ntopics; i++) {
		char name[256];
		snprintf(name, sizeof name, "%s", topics[i]);
		char *colon = strchr(name, ':');
		int parts = 4;
		if (colon) {
			*colon = '\0';
			parts = atoi(colon + 1);
		}
		rd_kafka_mock_topic_create(mc, name, parts, brokers < 3 ? brokers : 3);
	}
	printf("%s\n", rd_kafka_mock_cluster_bootstraps(mc));
	fflush(stdout);
	for (;;) {
		int sig;
		if (sigwait(&set, &sig) != 0)
			continue;
		if (sig == SIGUSR1) {
			rd_kafka_mock_broker_set_down(mc, -1);
			fprintf(stderr, "kafka-mock: brokers down\n");
		} else if (sig == SIGUSR2) {
			rd_kafka_mock_broker_set_up(mc, -1);
			fprintf(stderr, "kafka-mock: brokers up\n");
		} else {
			break;
		}
	}
	rd_kafka_mock_cluster_destroy(mc);
	rd_kafka_destroy(rk);
	return 0;
}
