// Show the visitor's local time, to prove the script was served.
document.addEventListener("DOMContentLoaded", () => {
  const clock = document.getElementById("clock");
  if (clock) {
    clock.textContent = `Page loaded at ${new Date().toLocaleTimeString()}.`;
  }
});
