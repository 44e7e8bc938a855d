// Starts the API documentation viewers of /docs (Swagger UI) and /redoc
// (ReDoc). Both are served by this service from their packaged releases; this
// script exists so that the pages need no inline script.
(function () {
  "use strict";

  function start() {
    var swagger = document.querySelector("[data-swagger-ui]");
    if (swagger && window.SwaggerUIBundle) {
      window.ui = window.SwaggerUIBundle({
        url: swagger.getAttribute("data-openapi-url"),
        domNode: swagger,
        deepLinking: true,
        layout: "BaseLayout",
        presets: [window.SwaggerUIBundle.presets.apis],
        // Never ask a validator elsewhere to check the document.
        validatorUrl: null,
      });
    }
    var redoc = document.querySelector("[data-redoc]");
    if (redoc && window.Redoc) {
      window.Redoc.init(redoc.getAttribute("data-openapi-url"), { hideDownloadButton: false }, redoc);
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
