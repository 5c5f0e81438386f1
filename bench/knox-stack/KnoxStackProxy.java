/*
 * postern bench: the Knox-stack peer. Knox's runtime stack without Knox — a Jetty 9.4 server and an Apache
 * HttpClient 4.5 pooled client, configured with the defaults Knox's GatewayServer, GatewayConfigImpl,
 * DefaultHttpClientFactory and DefaultDispatch use — forwarding every request to one upstream, streaming both
 * bodies. No authentication, no rewrite: the cost of the stack a Knox gateway stands on.
 *
 * Written for the bench (not derived from Knox's code); compiled at bench time against Debian's jars
 * (libjetty9-java, libhttpclient-java, /usr/share/java) by bench/bodies.ts.
 *
 *   java -cp <classes>:<jars> KnoxStackProxy --port N --upstream http(s)://127.0.0.1:PORT
 *        [--keystore file.p12 --password secret]
 *
 * Prints "listening <port>" once bound.
 */
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.security.KeyStore;
import java.util.Enumeration;
import java.util.Locale;
import java.util.Set;

import javax.net.ssl.SSLContext;
import javax.servlet.http.HttpServlet;
import javax.servlet.http.HttpServletRequest;
import javax.servlet.http.HttpServletResponse;

import org.apache.http.Header;
import org.apache.http.HttpEntity;
import org.apache.http.client.config.RequestConfig;
import org.apache.http.client.methods.CloseableHttpResponse;
import org.apache.http.client.methods.HttpEntityEnclosingRequestBase;
import org.apache.http.client.methods.HttpRequestBase;
import org.apache.http.config.RegistryBuilder;
import org.apache.http.conn.socket.ConnectionSocketFactory;
import org.apache.http.conn.socket.PlainConnectionSocketFactory;
import org.apache.http.conn.ssl.NoopHostnameVerifier;
import org.apache.http.conn.ssl.SSLConnectionSocketFactory;
import org.apache.http.conn.ssl.TrustSelfSignedStrategy;
import org.apache.http.entity.AbstractHttpEntity;
import org.apache.http.impl.DefaultConnectionReuseStrategy;
import org.apache.http.impl.client.CloseableHttpClient;
import org.apache.http.impl.client.DefaultConnectionKeepAliveStrategy;
import org.apache.http.impl.client.HttpClients;
import org.apache.http.impl.conn.PoolingHttpClientConnectionManager;
import org.apache.http.ssl.SSLContexts;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.SecureRequestCustomizer;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.server.SslConnectionFactory;
import org.eclipse.jetty.servlet.ServletContextHandler;
import org.eclipse.jetty.servlet.ServletHolder;
import org.eclipse.jetty.util.ssl.SslContextFactory;
import org.eclipse.jetty.util.thread.QueuedThreadPool;

public final class KnoxStackProxy {
  /** DefaultHttpClientFactory: gateway.httpclient.maxConnections, per route and in total. */
  static final int POOL = 32;
  /** gateway.httpclient.connectionTimeout / socketTimeout as Knox ships them (20 s). */
  static final int TIMEOUT_MS = 20_000;
  /** The copy buffer between the backend's response stream and the servlet's output. */
  static final int COPY_BUFFER = 8 * 1024;
  /** The buffer a request entity is written to the backend through (gateway.httpserver.requestBuffer). */
  static final int REQUEST_BUFFER = 16 * 1024;
  /** gateway.threadpool.max. */
  static final int THREADS = 254;
  /** gateway.httpserver.responseBuffer (Jetty's output buffer). */
  static final int RESPONSE_BUFFER = 32 * 1024;
  /** gateway.httpserver.requestHeaderBuffer / responseHeaderBuffer. */
  static final int HEADER_BUFFER = 8 * 1024;
  /** gateway.idle.timeout. */
  static final long IDLE_MS = 300_000;

  /** Request headers never forwarded (the client computes its own framing and Host). */
  static final Set<String> REQUEST_EXCLUDE = Set.of("host", "content-length", "transfer-encoding", "connection",
      "keep-alive", "upgrade", "te", "trailer", "proxy-connection", "expect", "authorization");
  /** Response headers never copied back (DefaultDispatch's exclusions and hop-by-hop framing). */
  static final Set<String> RESPONSE_EXCLUDE = Set.of("set-cookie", "www-authenticate", "transfer-encoding",
      "connection", "keep-alive");

  /** A streamed request entity: the client's body, written to the backend through a 16 KiB buffer. */
  static final class StreamEntity extends AbstractHttpEntity {
    private final InputStream in;
    private final long length;

    StreamEntity(InputStream in, long length) {
      this.in = in;
      this.length = length;
    }

    @Override public boolean isRepeatable() { return false; }
    @Override public long getContentLength() { return length; }
    @Override public InputStream getContent() { return in; }
    @Override public boolean isStreaming() { return true; }

    @Override
    public void writeTo(OutputStream out) throws IOException {
      byte[] buf = new byte[REQUEST_BUFFER];
      int n;
      while ((n = in.read(buf)) != -1) out.write(buf, 0, n);
      out.flush();
    }
  }

  static final class Method extends HttpEntityEnclosingRequestBase {
    private final String name;
    Method(String name, java.net.URI uri) {
      this.name = name;
      setURI(uri);
    }
    @Override public String getMethod() { return name; }
  }

  static final class ProxyServlet extends HttpServlet {
    private final CloseableHttpClient client;
    private final String upstream;

    ProxyServlet(CloseableHttpClient client, String upstream) {
      this.client = client;
      this.upstream = upstream;
    }

    @Override
    protected void service(HttpServletRequest req, HttpServletResponse res) throws IOException {
      String q = req.getQueryString();
      java.net.URI uri = java.net.URI.create(upstream + req.getRequestURI() + (q == null ? "" : "?" + q));
      String m = req.getMethod();
      boolean body = m.equals("PUT") || m.equals("POST") || m.equals("PATCH");
      HttpRequestBase out;
      if (body) {
        Method e = new Method(m, uri);
        e.setEntity(new StreamEntity(req.getInputStream(), req.getContentLengthLong()));
        out = e;
      } else {
        out = new HttpRequestBase() {
          { setURI(uri); }
          @Override public String getMethod() { return m; }
        };
      }
      for (Enumeration<String> names = req.getHeaderNames(); names.hasMoreElements();) {
        String name = names.nextElement();
        if (REQUEST_EXCLUDE.contains(name.toLowerCase(Locale.ROOT))) continue;
        for (Enumeration<String> v = req.getHeaders(name); v.hasMoreElements();) out.addHeader(name, v.nextElement());
      }
      try (CloseableHttpResponse in = client.execute(out)) {
        res.setStatus(in.getStatusLine().getStatusCode());
        for (Header h : in.getAllHeaders()) {
          if (RESPONSE_EXCLUDE.contains(h.getName().toLowerCase(Locale.ROOT))) continue;
          res.addHeader(h.getName(), h.getValue());
        }
        HttpEntity entity = in.getEntity();
        if (entity != null) {
          try (InputStream stream = entity.getContent()) {
            OutputStream os = res.getOutputStream();
            byte[] buf = new byte[COPY_BUFFER];
            int n;
            while ((n = stream.read(buf)) != -1) os.write(buf, 0, n);
          }
        }
      } catch (IOException e) {
        if (!res.isCommitted()) res.sendError(502);
        else throw e;
      }
    }
  }

  public static void main(String[] args) throws Exception {
    int port = 0;
    String upstream = null;
    String keystore = null;
    String password = "";
    for (int i = 0; i < args.length; i += 2) {
      switch (args[i]) {
        case "--port": port = Integer.parseInt(args[i + 1]); break;
        case "--upstream": upstream = args[i + 1]; break;
        case "--keystore": keystore = args[i + 1]; break;
        case "--password": password = args[i + 1]; break;
        default: throw new IllegalArgumentException("unknown option " + args[i]);
      }
    }
    if (upstream == null) throw new IllegalArgumentException("--upstream is required");

    // The client: DefaultHttpClientFactory's choices (no redirects, no retries, no cookies, no compression).
    SSLContext trustSelfSigned = SSLContexts.custom().loadTrustMaterial(null, new TrustSelfSignedStrategy()).build();
    PoolingHttpClientConnectionManager cm = new PoolingHttpClientConnectionManager(
        RegistryBuilder.<ConnectionSocketFactory>create()
            .register("http", PlainConnectionSocketFactory.getSocketFactory())
            .register("https", new SSLConnectionSocketFactory(trustSelfSigned, NoopHostnameVerifier.INSTANCE))
            .build());
    cm.setMaxTotal(POOL);
    cm.setDefaultMaxPerRoute(POOL);
    CloseableHttpClient client = HttpClients.custom()
        .setConnectionManager(cm)
        .setKeepAliveStrategy(DefaultConnectionKeepAliveStrategy.INSTANCE)
        .setConnectionReuseStrategy(DefaultConnectionReuseStrategy.INSTANCE)
        .disableRedirectHandling()
        .disableAutomaticRetries()
        .disableCookieManagement()
        .disableContentCompression()
        .setDefaultRequestConfig(RequestConfig.custom()
            .setConnectTimeout(TIMEOUT_MS)
            .setConnectionRequestTimeout(TIMEOUT_MS)
            .setSocketTimeout(TIMEOUT_MS)
            .setNormalizeUri(true)
            .build())
        .build();

    // The server: GatewayServer's Jetty settings.
    QueuedThreadPool threads = new QueuedThreadPool(THREADS);
    Server server = new Server(threads);
    HttpConfiguration http = new HttpConfiguration();
    http.setRequestHeaderSize(HEADER_BUFFER);
    http.setResponseHeaderSize(HEADER_BUFFER);
    http.setOutputBufferSize(RESPONSE_BUFFER);
    http.setSendServerVersion(false);
    ServerConnector connector;
    if (keystore != null) {
      SslContextFactory.Server ssl = new SslContextFactory.Server();
      KeyStore ks = KeyStore.getInstance("PKCS12");
      try (InputStream f = new java.io.FileInputStream(keystore)) {
        ks.load(f, password.toCharArray());
      }
      ssl.setKeyStore(ks);
      ssl.setKeyStorePassword(password);
      HttpConfiguration https = new HttpConfiguration(http);
      https.addCustomizer(new SecureRequestCustomizer());
      connector = new ServerConnector(server, new SslConnectionFactory(ssl, "http/1.1"),
          new HttpConnectionFactory(https));
    } else {
      connector = new ServerConnector(server, new HttpConnectionFactory(http));
    }
    connector.setHost("127.0.0.1");
    connector.setPort(port);
    connector.setIdleTimeout(IDLE_MS);
    server.addConnector(connector);
    ServletContextHandler context = new ServletContextHandler();
    context.setContextPath("/");
    context.addServlet(new ServletHolder(new ProxyServlet(client, upstream)), "/*");
    server.setHandler(context);
    server.setStopAtShutdown(true);
    server.start();
    System.out.println("listening " + connector.getLocalPort());
    server.join();
  }
}
