// The checkout page with Stripe: Stripe.js (https://js.stripe.com/v3/) shows its card field in
// #card-element; on Complete Purchase the card becomes a PaymentMethod in the browser and only
// its id ("pm_…") is posted, in the hidden field payment_method. The card number never reaches
// the tool. With "Use the card on file" chosen, the form is posted as it is.
(function () {
  "use strict";
  var form = document.getElementById("checkout-form");
  var mount = document.getElementById("card-element");
  if (!form || !mount || typeof window.Stripe !== "function") {
    return;
  }
  var stripe = window.Stripe(mount.getAttribute("data-publishable-key"));
  var card = stripe.elements().create("card");
  card.mount(mount);
  var errors = document.getElementById("card-errors");
  var method = form.querySelector("input[name=payment_method]");
  var button = document.getElementById("checkout-submit");
  var busy = false;

  function value(id) {
    var field = document.getElementById(id);
    return field ? field.value : "";
  }

  form.addEventListener("submit", function (event) {
    var choice = form.querySelector("input[name=card_choice]:checked");
    if ((choice && choice.value === "on_file") || method.value) {
      return;
    }
    event.preventDefault();
    if (busy) {
      return;
    }
    busy = true;
    button.disabled = true;
    errors.textContent = "";
    stripe.createPaymentMethod({
      type: "card",
      card: card,
      billing_details: {name: value("checkout-name"), email: value("checkout-email")}
    }).then(function (result) {
      if (result.error) {
        errors.textContent = result.error.message || "The card could not be used.";
        busy = false;
        button.disabled = false;
        return;
      }
      method.value = result.paymentMethod.id;
      form.submit();
    });
  });
}());
