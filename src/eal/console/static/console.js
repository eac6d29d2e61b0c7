// The console's only script: dragging a lead card to another column submits the card's
// own "Move to" form, so drag and keyboard go through the same request.
document.addEventListener("DOMContentLoaded", () => {
  const board = document.querySelector("[data-board]");
  if (!board) return;
  board.addEventListener("dragstart", (event) => {
    const card = event.target.closest("[data-lead]");
    if (card) event.dataTransfer.setData("text/plain", card.dataset.lead);
  });
  board.querySelectorAll("[data-stage]").forEach((column) => {
    column.addEventListener("dragover", (event) => event.preventDefault());
    column.addEventListener("drop", (event) => {
      event.preventDefault();
      const id = event.dataTransfer.getData("text/plain");
      const card = document.getElementById("lead-" + id);
      if (!card || card.closest("[data-stage]") === column) return;
      const form = card.querySelector("form.move");
      form.querySelector("select[name=stage]").value = column.dataset.stage;
      form.submit();
    });
  });
});
