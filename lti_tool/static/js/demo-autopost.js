/* Demo LMS: post the signed id_token to the tool at once, as an LMS's authorization endpoint does. */
(function () {
  "use strict";
  var form = document.getElementById("demo-autopost");
  if (form) {
    form.submit();
  }
})();
