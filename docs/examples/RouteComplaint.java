// Route one complaint through the sujian_router HTTP service with the JDK's own client (Java 17+).
//   javac RouteComplaint.java && java RouteComplaint http://127.0.0.1:8000
// Set SUJIAN_ROUTER_KEY when the service runs with --api-key-file.
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;

public class RouteComplaint {
    public static void main(String[] args) throws Exception {
        String base = args.length > 0 ? args[0] : "http://127.0.0.1:8000";
        String key = System.getenv().getOrDefault("SUJIAN_ROUTER_KEY", "");
        String body = """
            {"text": "晚上10点后经常有人在坪联路过河大桥下跳广场舞，噪声比较大，影响了我的休息。",
             "district": "坪山区", "street": "坪山街道", "received_at": "2024-06-12T22:30"}
            """;
        HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(base + "/v1/route"))
            .timeout(Duration.ofSeconds(10))
            .header("Content-Type", "application/json; charset=utf-8")
            .header("X-Request-ID", "ticket-20240612-0042")
            .POST(HttpRequest.BodyPublishers.ofString(body, StandardCharsets.UTF_8));
        if (!key.isEmpty()) {
            request.header("Authorization", "Bearer " + key);
        }
        HttpResponse<String> response =
            client.send(request.build(), HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
        // 200: a RoutingDecision as JSON (parse it with Jackson or Gson); 401/413/422/503: {"error": {...}}
        System.out.println(response.statusCode());
        System.out.println(response.body());
    }
}
