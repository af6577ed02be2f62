-- conf.lua -- no window and no media: the example runs headless (CI, or a
-- server), so only the modules the main loop needs are on: event (to quit
-- with a status), timer (the loop's clock), and data/math/system.
function love.conf(t)
  t.identity = "torchlet-love-example"
  t.version = "11.4"
  t.window = false
  t.modules.window = false
  t.modules.graphics = false
  t.modules.audio = false
  t.modules.sound = false
  t.modules.video = false
  t.modules.image = false
  t.modules.font = false
  t.modules.joystick = false
  t.modules.touch = false
  t.modules.mouse = false
  t.modules.keyboard = false
  t.modules.physics = false
end
