package io.trellis.sidecar.telemetry;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.spi.Configurator.ExecutionStatus;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class LogSetupTest {

    @Test
    void trellisLogsAtInfoAndEverythingElseOnlyFromWarnOneLineEachOnStderr() {
        LoggerContext context = new LoggerContext();
        context.setMDCAdapter(new ch.qos.logback.classic.util.LogbackMDCAdapter());   // as SLF4J's provider does
        LogSetup setup = new LogSetup();
        setup.setContext(context);
        PrintStream stderr = System.err;
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        try {
            System.setErr(new PrintStream(captured, true, StandardCharsets.UTF_8));
            assertThat(setup.configure(context)).isEqualTo(ExecutionStatus.DO_NOT_INVOKE_NEXT_IF_ANY);
            context.getLogger("io.trellis.sidecar.Sidecar").info("ready in {} ms", 812);
            context.getLogger("org.apache.pekko.actor.ActorSystem").info("not shown");
            context.getLogger("io.micronaut.context.DefaultBeanContext").warn("shown");
            context.getLogger("org.apache.pekko.io.TcpListener").error("bind failed (Main says so in one line)");
        } finally {
            System.setErr(stderr);
            context.stop();
        }

        String[] lines = captured.toString(StandardCharsets.UTF_8).split("\n");
        assertThat(lines).hasSize(2);
        assertThat(lines[0]).matches("\\d\\d:\\d\\d:\\d\\d\\.\\d{3} INFO  \\[sidecar\\] Sidecar - ready in 812 ms");
        assertThat(lines[1]).endsWith("WARN  [sidecar] DefaultBeanContext - shown");
    }

    @Test
    void aConfigurationFileNamedOnTheCommandLineWins() {
        LoggerContext context = new LoggerContext();
        LogSetup setup = new LogSetup();
        setup.setContext(context);
        System.setProperty("logback.configurationFile", "/etc/trellis/logback.xml");
        try {
            assertThat(setup.configure(context)).isEqualTo(ExecutionStatus.INVOKE_NEXT_IF_ANY);
            assertThat(context.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME).iteratorForAppenders().hasNext()).isFalse();
        } finally {
            System.clearProperty("logback.configurationFile");
            context.stop();
        }
    }
}
