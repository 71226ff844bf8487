// Northwind Outfitters: the newsletter form thanks the reader in place.
document.addEventListener('DOMContentLoaded', function () {
  var form = document.getElementById('newsletter');
  if (!form) return;
  form.addEventListener('submit', function (event) {
    event.preventDefault();
    var email = form.querySelector('input[type="email"]');
    if (email && !email.checkValidity()) {
      email.reportValidity();
      return;
    }
    var thanks = document.createElement('p');
    thanks.className = 'thanks';
    thanks.setAttribute('role', 'status');
    thanks.textContent = document.documentElement.lang === 'fr'
      ? 'Merci ! Confirmez votre inscription depuis votre boîte mail.'
      : 'Thanks! Check your inbox to confirm your subscription.';
    form.replaceWith(thanks);
  });
});
