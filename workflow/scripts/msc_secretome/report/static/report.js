(function(){
"use strict";
function cellValue(td){
  var v=td.getAttribute("data-v");
  if(v!==null){var x=parseFloat(v);return {num:true,v:x};}
  return {num:false,v:td.textContent.trim().toLowerCase()};
}
function sortBy(th){
  var table=th.closest("table"),tbody=table.tBodies[0];
  var idx=Array.prototype.indexOf.call(th.parentNode.children,th);
  var asc=th.getAttribute("data-dir")!=="asc";
  Array.prototype.forEach.call(table.tHead.rows[0].cells,function(h){h.removeAttribute("data-dir");});
  th.setAttribute("data-dir",asc?"asc":"desc");
  var rows=Array.prototype.slice.call(tbody.rows);
  rows.sort(function(a,b){
    var x=cellValue(a.cells[idx]),y=cellValue(b.cells[idx]);
    if(x.num&&y.num){
      var xn=isNaN(x.v),yn=isNaN(y.v);
      if(xn||yn){return xn===yn?0:(xn?1:-1);}
      return asc?x.v-y.v:y.v-x.v;
    }
    var c=String(x.v).localeCompare(String(y.v),undefined,{numeric:true});
    return asc?c:-c;
  });
  rows.forEach(function(r){tbody.appendChild(r);});
}
document.querySelectorAll("table.sortable thead th").forEach(function(th){
  th.addEventListener("click",function(){sortBy(th);});
});
document.querySelectorAll("input.table-search").forEach(function(inp){
  var table=document.getElementById(inp.getAttribute("data-table"));
  var count=document.querySelector('span.tcount[data-table="'+inp.getAttribute("data-table")+'"]');
  inp.addEventListener("input",function(){
    var q=inp.value.trim().toLowerCase(),shown=0,rows=table.tBodies[0].rows;
    for(var i=0;i<rows.length;i++){
      var hit=!q||rows[i].textContent.toLowerCase().indexOf(q)>=0;
      rows[i].hidden=!hit; if(hit){shown++;}
    }
    if(count){count.textContent=(q?shown+" of "+rows.length:rows.length)+" rows";}
  });
});
var jump=document.getElementById("contrast-jump");
if(jump){jump.addEventListener("change",function(){
  if(jump.value){document.getElementById(jump.value).scrollIntoView();}
});}
var divs=Array.prototype.slice.call(document.querySelectorAll("div.plot[data-fig]"));
if(typeof Plotly==="undefined"){
  divs.forEach(function(d){d.textContent="Plotly failed to load.";});
  return;
}
var config=JSON.parse(document.getElementById("plotly-config").textContent);
// Plots are drawn one at a time (the page stays responsive), those on screen first: a plot
// that scrolls into view jumps the queue, so what the reader looks at is never left blank.
var queue=divs.slice();
function draw(d,done){
  try{
    var spec=JSON.parse(document.getElementById(d.getAttribute("data-fig")).textContent);
    Plotly.newPlot(d,spec.data,spec.layout,config).then(done,
      function(e){console.error("plot "+d.id+": "+e);done();});
  }catch(e){console.error("plot "+d.id+": "+e);done();}
}
function onScreen(d){
  var r=d.getBoundingClientRect();
  return r.bottom>=0&&r.top<=(window.innerHeight||800)*1.5;
}
if("IntersectionObserver" in window){
  var seen=new IntersectionObserver(function(entries){
    entries.forEach(function(e){
      var k=queue.indexOf(e.target);
      if(e.isIntersecting&&k>0){queue.splice(k,1);queue.unshift(e.target);}
    });
  },{rootMargin:"200px"});
  divs.forEach(function(d){seen.observe(d);});
}
queue.sort(function(a,b){return (onScreen(b)?1:0)-(onScreen(a)?1:0);});
function next(){
  if(!queue.length){document.documentElement.setAttribute("data-plots","done");return;}
  var d=queue.shift();
  draw(d,function(){setTimeout(next,0);});
}
next();
})();
